// Tessera account page. Cookie mode: the tokens live in HttpOnly cookies this script never
// sees; the only secret it holds is the CSRF token, in a variable (never in storage, never
// in the DOM). Text goes in with textContent only.
(function () {
  'use strict';

  const el = (id) => document.getElementById(id);
  const form = el('signin-form');
  const account = el('account');
  const status = el('status');
  const buttons = ['signin-button', 'refresh-button', 'signout-button', 'signout-all-button'].map(el);

  let csrfToken = null;

  function say(text, kind) {
    status.textContent = text;
    status.className = 'status' + (kind ? ' ' + kind : '');
  }

  function busy(on) {
    buttons.forEach((b) => { b.disabled = on; });
  }

  // One request to the server: same-origin cookies, the CSRF header once we have the token.
  // Resolves to { status, body } (body is null for 204 or a non-JSON answer); a network
  // failure resolves to status 0.
  async function call(method, path, json) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (csrfToken && method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    if (path === '/auth/login') headers['Tessera-Delivery'] = 'cookie';
    try {
      const response = await fetch(path, init);
      const body = await response.json().catch(() => null);
      return { status: response.status, body };
    } catch (e) {
      return { status: 0, body: null };
    }
  }

  function problem(result, fallback) {
    if (result.status === 0) return 'The server cannot be reached; try again.';
    const description = result.body && result.body.error_description;
    return description ? capitalize(description) + '.' : fallback + ' (HTTP ' + result.status + ').';
  }

  function capitalize(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // A token response (login or refresh): keep the new CSRF token, show the access expiry.
  function accept(tokenResponse) {
    csrfToken = tokenResponse.csrf_token;
    const at = new Date(Date.now() + tokenResponse.expires_in * 1000);
    const minutes = Math.round(tokenResponse.expires_in / 60);
    el('expires').textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) +
      ' (in ' + minutes + (minutes === 1 ? ' minute)' : ' minutes)');
  }

  function showForm() {
    csrfToken = null;
    account.hidden = true;
    form.hidden = false;
    el('password').value = '';
    el('username').focus();
  }

  function showAccount(me) {
    el('who-username').textContent = me.username;
    el('who-sub').textContent = me.sub;
    const roles = el('who-roles');
    roles.replaceChildren();
    (me.roles.length ? me.roles : [null]).forEach((role) => {
      const item = document.createElement('li');
      item.textContent = role === null ? 'no roles' : role;
      if (role === null) item.className = 'none';
      roles.appendChild(item);
    });
    el('who-scope').textContent = me.scope || 'none';
    form.hidden = true;
    account.hidden = false;
  }

  // The applications the user consented to, each with a button that withdraws the consent
  // (which also signs the user out of that application).
  async function loadApps() {
    const result = await call('GET', '/auth/consents');
    const list = el('apps');
    list.replaceChildren();
    const consents = result.status === 200 ? result.body.consents : [];
    el('apps-none').hidden = consents.length > 0;
    consents.forEach((consent) => {
      const item = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = consent.client_name || consent.client_id;
      const scopes = document.createElement('span');
      scopes.className = 'scopes';
      scopes.textContent = consent.scopes.join(' ');
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.className = 'secondary revoke-app';
      revoke.textContent = 'Remove access';
      revoke.dataset.clientId = consent.client_id;
      revoke.addEventListener('click', async () => {
        revoke.disabled = true;
        const done = await call('DELETE', '/auth/consents/' + encodeURIComponent(consent.client_id));
        if (done.status === 204 || done.status === 404) {
          say('Access removed for ' + name.textContent, 'ok');
          await loadApps();
        } else {
          say(problem(done, 'Removing access failed'), 'error');
          revoke.disabled = false;
        }
      });
      item.append(name, ' ', scopes, ' ', revoke);
      list.appendChild(item);
    });
  }

  // Shows the account when /auth/me answers; returns false when it does not.
  async function loadMe() {
    const me = await call('GET', '/auth/me');
    if (me.status !== 200) return false;
    showAccount(me.body);
    await loadApps();
    return true;
  }

  async function refresh() {
    const result = await call('POST', '/auth/refresh');
    if (result.status === 200) accept(result.body);
    return result;
  }

  // Restores a session from the cookies (refreshing once if the access cookie has expired),
  // or shows the form.
  async function start() {
    const csrf = await call('GET', '/auth/csrf');
    if (csrf.status === 200) {
      csrfToken = csrf.body.csrf_token;
      el('expires').textContent = 'unknown until the next refresh';
      if (await loadMe() || ((await refresh()).status === 200 && await loadMe())) {
        say('');
        return;
      }
    }
    showForm();
    if (csrf.status === 0) say(problem(csrf), 'error');
    else say('');
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    busy(true);
    say('Signing in…');
    const result = await call('POST', '/auth/login', {
      username: el('username').value,
      password: el('password').value,
    });
    el('password').value = '';
    if (result.status === 200) {
      accept(result.body);
      if (await loadMe()) say('Signed in', 'ok');
      else say('Signed in, but your account could not be loaded; reload the page.', 'error');
    } else {
      say(problem(result, 'Sign-in failed'), 'error');
      el('password').focus();
    }
    busy(false);
  });

  el('refresh-button').addEventListener('click', async () => {
    busy(true);
    const result = await refresh();
    if (result.status === 200) {
      await loadMe();
      say('Refreshed', 'ok');
    } else if (result.status === 401) {
      showForm();
      say('Your session has ended; sign in again.', 'error');
    } else {
      say(problem(result, 'Refresh failed'), 'error');
    }
    busy(false);
  });

  function signOut(path, done) {
    return async () => {
      busy(true);
      const result = await call('POST', path);
      // 401: the session had already ended, which is what signing out wants.
      if (result.status === 204 || result.status === 401) {
        showForm();
        say(done, 'ok');
      } else {
        say(problem(result, 'Sign-out failed'), 'error');
      }
      busy(false);
    };
  }

  el('signout-button').addEventListener('click', signOut('/auth/logout', 'Signed out'));
  el('signout-all-button').addEventListener('click',
    signOut('/auth/logout-all', 'Signed out on every device'));

  start();
}());
