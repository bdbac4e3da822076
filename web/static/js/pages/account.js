// Account: change one's password, or delete the account with its videos.
import { initLayout } from '../layout.js';
import { changePassword, deleteMe } from '../api.js';
import { $, el, showError, showMessage } from '../ui.js';

const status = $('#status');

async function main() {
  const user = await initLayout();
  if (!user) {
    showMessage(status, 'Log in to manage your account. ', '', el('a', { href: `/login?next=${encodeURIComponent('/account')}` }, 'Log in'));
    return;
  }
  $('#account').hidden = false;
  const pw = $('#password-form');
  pw.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if ($('#new-password').value !== $('#new-password2').value) {
      showMessage(status, 'The two new passwords differ.', 'error');
      return;
    }
    const button = $('#password-submit');
    button.disabled = true;
    try {
      await changePassword($('#current-password').value, $('#new-password').value);
      pw.reset();
      showMessage(status, 'Your password is changed; your other sessions are logged out.', 'ok');
    } catch (err) {
      showError(status, err, 'The password could not be changed');
    }
    button.disabled = false;
  });
  const del = $('#delete-form');
  del.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!window.confirm('Delete your account and all your videos? This cannot be undone.')) return;
    const button = $('#delete-submit');
    button.disabled = true;
    try {
      await deleteMe($('#delete-password').value);
      location.assign('/?account=deleted');
    } catch (err) {
      showError(status, err, 'The account could not be deleted');
      button.disabled = false;
    }
  });
  // The forms work only through this script (their passwords never go
  // into a URL): enable them now that it is bound.
  $('#password-submit').disabled = false;
  $('#delete-submit').disabled = false;
}

main().catch((err) => showError(status, err));
