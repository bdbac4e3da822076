// Register: create the account, log in at once, and go on.
import { initLayout } from '../layout.js';
import { register, login, pod } from '../api.js';
import { showError, showMessage, safeNext, formReady } from '../ui.js';

initLayout();
const form = document.getElementById('register-form');
const status = document.getElementById('status');
// Say at once when the pod takes no new accounts, rather than after the
// visitor filled the form in.
pod().then((info) => {
  if (info && info.open_registration === false) {
    form.hidden = true;
    showMessage(status, 'This pod does not take new accounts. Ask its administrator to create one for you.', 'error');
  }
}).catch(() => {});
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showMessage(status, '');
  const username = form.username.value.trim();
  const password = form.password.value;
  if (password !== form.password2.value) {
    showMessage(status, 'The two passwords differ.', 'error');
    form.password2.focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await register(username, password);
  } catch (err) {
    showError(status, err, 'The account could not be created');
    button.disabled = false;
    return;
  }
  try {
    await login(username, password);
    location.assign(safeNext());
  } catch {
    location.assign('/login?registered=1');
  }
});
formReady(form);
