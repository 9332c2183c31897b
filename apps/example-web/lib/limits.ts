// Limits the APIs enforce, stated in the forms before they bite (never a silent maxlength cut).
/** Organization and project names (auth-service onboarding/PATCH, example API). */
export const NAME_MAX = 200;
/** Team and API key names (auth-service). */
export const SHORT_NAME_MAX = 100;
