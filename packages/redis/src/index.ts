export {
  describeRedis,
  type HostPort,
  REDIS_VARIABLES,
  type RedisConfigIssue,
  type RedisConfigResult,
  type RedisTarget,
  readRedisConfig,
} from "./config.ts";
export { ClusterSubscriber, openRedis, openSubscriber, type RedisClient, type RedisSubscriber } from "./open.ts";
