// Who is signed in: the API token and what `GET /api/v1/whoami` said about it.
//
// The token is kept in sessionStorage: it survives a reload of the tab but not closing it,
// and other tabs do not share it (each tab signs in on its own). It is never put in a
// cookie or a URL, so it travels only in the `Authorization` header the portal sets.

const KEY = 'switchyard.token';

let me = null;

export function token() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    // Storage can be disabled; the person then signs in again at each load.
    return null;
  }
}

export function signIn(newToken, principal) {
  try {
    sessionStorage.setItem(KEY, newToken);
  } catch {
    // Nothing to do: the token still works for this page's lifetime through `me`.
  }
  me = principal;
}

export function signOut() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Already unavailable.
  }
  me = null;
}

/** `{name, roles}` of the signed-in person, once known. */
export function principal() {
  return me;
}

export function setPrincipal(p) {
  me = p;
}

/** Whether the signed-in person holds `role` (admins hold every role, as on the server). */
export function hasRole(role) {
  return !!me && (me.roles.includes('admin') || me.roles.includes(role));
}

/** Whether the signed-in person holds one of `roles`. */
export function hasAnyRole(roles) {
  return (roles || []).some(hasRole) || hasRole('admin');
}
