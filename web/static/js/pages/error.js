// Error pages (404, 403, 500): only the shared header needs a script.
import { initLayout } from '../layout.js';

initLayout();
