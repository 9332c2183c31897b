export {
  describeRedis,
  type HostPort,
  type RedisConfigIssue,
  type RedisConfigResult,
  type RedisTarget,
  readRedisConfig,
} from "./config.ts";
export { ClusterSubscriber, openRedis, openSubscriber, type RedisClient, type RedisSubscriber } from "./open.ts";
