// The one-time notice a step leaves for the next page (set by the sign-out route,
// read by the middleware, shown by the login page).
export const NOTICE_COOKIE = "gh_notice";
export const NOTICE_HEADER = "x-gatehouse-notice";
