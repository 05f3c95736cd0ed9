//! The Redis backend: one Lua script checks and counts a rate (GCRA) and a
//! daily quota atomically, on Redis's clock, in one round trip.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{LimitsError, Quota, Rate, Raw};

/// Where the shared limits live.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:6379/0` or `rediss://…`.
    pub url: String,
    /// Prepended to every key, so installations can share a server.
    pub key_prefix: String,
    /// How long a check may wait for Redis before this node limits alone.
    pub timeout: Duration,
}

/// KEYS[1]: the rate's arrival time (µs); KEYS[2]: the day's count.
/// ARGV: emission interval µs (0: no rate), burst, calls per day (0: no
/// quota), end of the day (Unix s), calls known made today.
/// Answers {refused_by, retry_us, rate_remaining, rate_reset_us, quota_used,
/// quota_reset_s}; refused_by is 0 (admitted), 1 (rate) or 2 (quota).
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now = now_s * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
local day_end = tonumber(ARGV[4])
local at_least = tonumber(ARGV[5])

local used, quota_reset, quota_ok = 0, 0, true
if per_day > 0 then
  used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used < at_least then used = at_least end
  quota_ok = used < per_day
  quota_reset = math.max(day_end - now_s, 0)
end

local refused, retry, remaining, reset, tat, new_tat = 0, 0, 0, 0, now, nil
if interval > 0 then
  tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  local next_tat = tat + interval
  local allow_at = next_tat - interval * burst
  if now < allow_at then
    refused, retry, reset = 1, allow_at - now, tat - now
  elseif quota_ok then
    remaining, reset, new_tat = math.floor((now - allow_at) / interval), next_tat - now, next_tat
  else
    remaining, reset = math.floor((now - allow_at) / interval) + 1, tat - now
  end
end

if not quota_ok then
  return {2, quota_reset * 1000000, remaining, reset, used, quota_reset}
end
if refused == 1 then
  return {1, retry, remaining, reset, used, quota_reset}
end
if new_tat then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
if per_day > 0 then
  local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
  if stored < used then redis.call('SET', KEYS[2], used) end
  used = redis.call('INCR', KEYS[2])
  -- Kept an hour past the day (or past now, for a day already over).
  redis.call('EXPIREAT', KEYS[2], math.max(day_end, now_s) + 3600)
end
return {0, 0, remaining, reset, used, quota_reset}
";

pub(crate) struct Shared {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

impl Shared {
    pub(crate) fn new(settings: &RedisSettings) -> Result<Self, LimitsError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| LimitsError::Url(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1);
        // Connects on first use and reconnects by itself after a failure.
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| LimitsError::Url(e.to_string()))?;
        Ok(Self {
            connection,
            script: redis::Script::new(SCRIPT),
            prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), LimitsError> {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        // Connecting may take longer than one check; a second is plenty.
        tokio::time::timeout(self.timeout.max(Duration::from_secs(1)), ping)
            .await
            .map_err(|_| LimitsError::Timeout(self.timeout))??;
        Ok(())
    }

    pub(crate) async fn check(
        &self,
        rate: Option<(&str, Rate)>,
        quota: Option<(&str, &Quota)>,
    ) -> Result<Raw, LimitsError> {
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}{}", self.prefix, rate.map_or("-", |r| r.0)))
            .key(format!("{}{}", self.prefix, quota.map_or("-", |q| q.0)))
            .arg(rate.map_or(0, |r| r.1.interval_us()))
            .arg(rate.map_or(0, |r| r.1.burst))
            .arg(quota.map_or(0, |q| q.1.per_day))
            .arg(quota.map_or(0, |q| q.1.day_end()))
            .arg(quota.map_or(0, |q| q.1.at_least));
        let mut connection = self.connection.clone();
        let answer: Vec<i64> =
            tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| LimitsError::Timeout(self.timeout))??;
        let [
            refused_by,
            retry_us,
            rate_remaining,
            rate_reset_us,
            quota_used,
            quota_reset_s,
        ] = answer[..]
        else {
            return Err(LimitsError::Answer(format!("{answer:?}")));
        };
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Raw {
            refused_by: u8::try_from(refused_by).unwrap_or(0),
            retry_us: n(retry_us),
            rate_remaining: n(rate_remaining),
            rate_reset_us: n(rate_reset_us),
            quota_used: n(quota_used),
            quota_reset_s: n(quota_reset_s),
        })
    }
}
