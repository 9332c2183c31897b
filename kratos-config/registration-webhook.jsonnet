// Body of the after-registration web_hook sent to the auth-service.
// Only what the auth-service needs: never ctx.request_headers (cookies would leak
// into its logs) and never anything it should trust for authorization: roles come
// from Gatehouse's own tables, the tier is only a hint for onboarding.
function(ctx) {
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  name: if std.objectHas(ctx.identity.traits, 'name') then ctx.identity.traits.name else null,
  flow_id: ctx.flow.id,
  transient_payload:
    if std.objectHas(ctx.flow, 'transient_payload') && ctx.flow.transient_payload != null
    then ctx.flow.transient_payload
    else {},
}
