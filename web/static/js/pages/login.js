// Log in: a token in the session cookie, then back to ?next= (same site only).
import { initLayout } from '../layout.js';
import { login } from '../api.js';
import { showError, showMessage, safeNext, formReady } from '../ui.js';

initLayout();
const form = document.getElementById('login-form');
const status = document.getElementById('status');
if (new URLSearchParams(location.search).has('registered')) {
  showMessage(status, 'Your account is ready. Log in to continue.', 'ok');
}
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  showMessage(status, '');
  try {
    await login(form.username.value.trim(), form.password.value);
    location.assign(safeNext());
  } catch (err) {
    showError(status, err, 'Log in failed');
    form.password.select();
    button.disabled = false;
  }
});
formReady(form);
