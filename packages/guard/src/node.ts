// @gatehouse/guard/node: access enforced on a node:http server of your own, as the
// gateway and the Express and proxy entries do it (enforce/node.ts), and the header
// classes a proxy needs (which headers only a trusted proxy may set, which are
// hop-by-hop).

export {
  connectionListed,
  isClientAddressHeader,
  isHopByHopHeader,
} from "./core/untrusted.ts";
export { type Answer, answerOf, errorAnswer, errorBody, requestIdFrom, WWW_AUTHENTICATE } from "./enforce/answer.ts";
export {
  compileForwarding,
  Forwarding,
  type ForwardOptions,
  forwardHeaders,
  PROXY_FORWARDING,
  type Stated,
} from "./enforce/forward.ts";
export {
  type Access,
  type Allowed,
  absoluteUrl,
  type Exchange,
  enforce,
  nodeRequest,
  requestIdOf,
  respond,
  sendAnswer,
  sendError,
} from "./enforce/node.ts";
