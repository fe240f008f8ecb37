using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox;

/// <summary>
/// The Lua the outbox runs. Each script touches the keys of one hash slot only (Redis Cluster refuses anything else,
/// and a script is atomic only on one node); the keys each one is given come from the methods beside it, which the
/// slot tests call.
/// </summary>
public static class OutboxScripts
{
    /// <summary>
    /// The fence (SPEC §8.1 "Fencing"): a write of an owner (ARGV[o], ARGV[e]) that no longer holds the call's hash is
    /// refused with -1. A lane that belongs to no owner (empty owner) and a hash without one are not fenced.
    /// </summary>
    private const string Fence = """
        local function fenced(o, e)
          if ARGV[o] == '' then return false end
          local owner = redis.call('HGET', KEYS[1], 'owner')
          return owner and (owner ~= ARGV[o] or redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[e])
        end

        """;

    /// <summary>
    /// The gate of every call event (SPEC §8.1 "Fencing"), on its state hash: takes the event's sequence number if
    /// it is newer than the one recorded. 1: taken (its history and active-list writes follow, then
    /// <see cref="Announce"/>); 2: the same event again (a retry: its bookkeeping is redone idempotently);
    /// 0: an older event (stale): nothing follows; -1: fenced (another owner holds the call). ARGV: seq, ttl, owner, epoch.
    /// </summary>
    public const string Gate = Fence + """
        if fenced(3, 4) then return -1 end
        local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
        local seq = tonumber(ARGV[1])
        if seq < last then return 0 end
        if seq == last then return 2 end
        redis.call('HSET', KEYS[1], 'seq', ARGV[1])
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return 1
        """;

    /// <summary>
    /// Publishes a call's message once, on its state hash (field <c>pub</c>: the last sequence number published;
    /// <c>seq</c> is raised to it for a reply, which has no gate of its own). Sent after the event's bookkeeping, so
    /// a subscriber that reads the history or the active list on an event finds it there. Returns 1: published;
    /// 2: published before (a retry); 3: recorded without publishing (mode 1: the instance heard it go out on its own
    /// subscription before Redis restarted without its data); 4: published again (mode 2: Redis restarted after
    /// recording it and the instance never heard it: it died before sending it to subscribers, as a Redis killed
    /// during an AOF fsync does); 0: older than what Redis has (stale), dropped; -1: fenced.
    /// Whenever the message counts as out, the field ARGV[8] (when not empty) is set: which events went out is
    /// recorded with them, for a take-over. ARGV: seq, ttl, channel, message, mode (0, 1 or 2), owner, epoch, mark.
    /// </summary>
    public const string Announce = Fence + """
        if fenced(6, 7) then return -1 end
        local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
        local pub = tonumber(redis.call('HGET', KEYS[1], 'pub') or '0')
        local seq = tonumber(ARGV[1])
        local again = seq == pub
        if seq < pub or (seq < last and not again) then return 0 end
        if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], ARGV[8], '1') end
        if again and ARGV[5] ~= '2' then return 2 end
        redis.call('HSET', KEYS[1], 'pub', ARGV[1])
        if seq > last then redis.call('HSET', KEYS[1], 'seq', ARGV[1]) end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        if ARGV[5] == '1' then return 3 end
        redis.call('PUBLISH', ARGV[3], ARGV[4])
        if again then return 4 end
        return 1
        """;

    public static RedisKey[] GateKeys(string dialId) => [RedisKeys.CallState(dialId)];

    /// <summary>An event into the user's history. ARGV: message, ttl.</summary>
    public const string HistoryPush = "redis.call('LPUSH', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])";

    /// <summary>The same, when it may have gone in already (a retry): not twice at the head. ARGV: message, ttl.</summary>
    public const string HistoryPushOnce = """
        if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then redis.call('LPUSH', KEYS[1], ARGV[1]) end
        return redis.call('EXPIRE', KEYS[1], ARGV[2])
        """;

    /// <summary>The failure of a refused job: into the history, then published. ARGV: channel, message, ttl.</summary>
    public const string Refusal =
        "redis.call('LPUSH', KEYS[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) return redis.call('PUBLISH', ARGV[1], ARGV[2])";

    public static RedisKey[] HistoryKeys(string orgId, string userId) => [RedisKeys.History(orgId, userId)];

    /// <summary>An answered side's entry in the active list, exactly once. ARGV: value, ttl.</summary>
    public const string ActiveAdd = """
        redis.call('LREM', KEYS[1], 0, ARGV[1])
        redis.call('LPUSH', KEYS[1], ARGV[1])
        return redis.call('EXPIRE', KEYS[1], ARGV[2])
        """;

    /// <summary>The side's entry gone (an emptied list is an absent key). ARGV: value, ttl.</summary>
    public const string ActiveRemove = "redis.call('LREM', KEYS[1], 0, ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])";

    public static RedisKey[] ActiveKeys(string dialId, string orgId, string userId) => [RedisKeys.Active(dialId, orgId, userId)];

    /// <summary>Fields of the call's state hash, fenced (-1). ARGV: ttl, owner, epoch, field, value, field, value…</summary>
    public const string SaveState = Fence + """
        if fenced(2, 3) then return -1 end
        redis.call('HSET', KEYS[1], unpack(ARGV, 4))
        return redis.call('EXPIRE', KEYS[1], ARGV[1])
        """;

    /// <summary>The state hash deleted at the end of the call's grace, fenced (-1). ARGV: owner, epoch.</summary>
    public const string DeleteState = Fence + """
        if fenced(1, 2) then return -1 end
        return redis.call('DEL', KEYS[1])
        """;

    /// <summary>
    /// The hand-off (SPEC §8.1 "Release"): the owner lets go of the call — owner <c>released</c>, with Redis's time in
    /// <c>released_at</c> — and tells the peers on <see cref="RedisKeys.Handoff"/> (message "&lt;owner&gt; &lt;dial_id&gt;"), so
    /// one claims it at once. A strict compare-and-set: only the owner at its epoch releases (a missing hash, an empty
    /// owner or another owner: -1, fenced); 2 when it was released at this epoch already (a retry). ARGV: owner, epoch,
    /// channel, message.
    /// </summary>
    public const string Release = Redis.InstanceLease.RedisNowMs + """
        local owner = redis.call('HGET', KEYS[1], 'owner')
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if owner == 'released' and epoch == ARGV[2] then return 2 end
        if not owner or owner ~= ARGV[1] or epoch ~= ARGV[2] then return -1 end
        redis.call('HSET', KEYS[1], 'owner', 'released', 'released_at', now)
        redis.call('PUBLISH', ARGV[3], ARGV[4])
        return 1
        """;

    /// <summary>
    /// A take-over (SPEC §8.1 "Claim"): compare-and-set of (owner, epoch+1) on the hash, only while it is still held
    /// by the lapsed owner ARGV[1] (or was released by it). Returns the whole hash as it now is — for a released call
    /// followed by <c>handoff_ms</c> and the time since the release by Redis's clock — or an empty array when someone
    /// else holds it or it is gone. ARGV: lapsed owner, new owner, '1' for a hand-off (then only a released call is taken:
    /// its former owner is alive).
    /// </summary>
    public const string Claim = Redis.InstanceLease.RedisNowMs + """
        local owner = redis.call('HGET', KEYS[1], 'owner')
        if not owner or (owner ~= ARGV[1] and owner ~= 'released') then return {} end
        if ARGV[3] == '1' and owner ~= 'released' then return {} end
        redis.call('HINCRBY', KEYS[1], 'epoch', 1)
        redis.call('HSET', KEYS[1], 'owner', ARGV[2])
        local releasedAt = redis.call('HGET', KEYS[1], 'released_at')
        redis.call('HDEL', KEYS[1], 'released_at')
        local all = redis.call('HGETALL', KEYS[1])
        if owner == 'released' and releasedAt then
          all[#all + 1] = 'handoff_ms'
          all[#all + 1] = tostring(now - tonumber(releasedAt))
        end
        return all
        """;

    /// <summary>
    /// The state hash written back after Redis lost it: the fields, and the sequence numbers (taken, published)
    /// unless higher ones are there already (a message that went out just before the restart). ARGV: ttl, seq, field, value…
    /// </summary>
    public const string RestoreState = """
        if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
        local seq = tonumber(ARGV[2])
        if seq > tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') then redis.call('HSET', KEYS[1], 'seq', ARGV[2]) end
        if seq > tonumber(redis.call('HGET', KEYS[1], 'pub') or '0') then redis.call('HSET', KEYS[1], 'pub', ARGV[2]) end
        return redis.call('EXPIRE', KEYS[1], ARGV[1])
        """;

    public static RedisKey[] StateKeys(string dialId) => [RedisKeys.CallState(dialId)];

    /// <summary>A job that became a call is dead-lettered at most once: only while it is still in the processing list. ARGV: job, wrapped.</summary>
    public const string DeadLetter = """
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) > 0 then redis.call('RPUSH', KEYS[2], ARGV[2]) end
        return 1
        """;

    /// <summary>A job given back to the head of the job list, at most once. ARGV: job.</summary>
    public const string ReturnJob = """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) > 0 then redis.call('LPUSH', KEYS[2], ARGV[1]) end
        return 1
        """;

    /// <summary>A live call's job back in the processing list after Redis lost it, exactly once. ARGV: job.</summary>
    public const string RestoreJob = "redis.call('LREM', KEYS[1], 0, ARGV[1]) return redis.call('RPUSH', KEYS[1], ARGV[1])";

    public static RedisKey[] DeadLetterKeys(RedisKeys keys) => [keys.Processing, keys.Dead];

    public static RedisKey[] ReturnJobKeys(RedisKeys keys) => [keys.Processing, keys.JobList];

    public static RedisKey[] RestoreJobKeys(RedisKeys keys) => [keys.Processing];
}
