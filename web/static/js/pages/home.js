// Home: the newest videos of this pod and its friends, rendered by the pod
// (web/templates/videolist.html); the script adds the account menu.
import { initLayout } from '../layout.js';

initLayout();
