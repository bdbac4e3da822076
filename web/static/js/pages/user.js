// A user's page: the videos they uploaded to this pod, newest first, and
// their feed, rendered by the pod; the script adds the account menu.
import { initLayout } from '../layout.js';

initLayout();
