// Body of the after-settings (profile) web_hook sent to the auth-service: the
// identity's address and name as they are now, so member lists and team pages show
// a rename at once. Never ctx.request_headers (cookies) and nothing that grants anything.
function(ctx) {
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  name: if std.objectHas(ctx.identity.traits, 'name') then ctx.identity.traits.name else null,
}
