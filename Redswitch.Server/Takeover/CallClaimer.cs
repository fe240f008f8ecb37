using System.Globalization;
using Microsoft.Extensions.Logging;
using Redswitch.Calls;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Calls;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Server.Redis.Outbox;
using StackExchange.Redis;

namespace Redswitch.Server.Takeover;

/// <summary>What came of one claim.</summary>
public enum ClaimResult
{
    Claimed,
    /// <summary>Another instance has it, or it is gone: nothing to do, ever.</summary>
    NotOurs,
    /// <summary>No authenticated link to the call's node now: tried again later.</summary>
    NoLink,
}

/// <summary>
/// Takes one call over from an owner whose lease lapsed (or from this instance's own earlier run), SPEC §8.1 "Claim"
/// and "Resume": subscribe to its channel, move its dial_id between the index sets (SMOVE: one claimer wins),
/// compare-and-set (owner, epoch+1) on its hash, settle its job, and hand the call to a resumed <see cref="CallOwner"/>.
/// </summary>
public sealed class CallClaimer(
    IConnectionMultiplexer redis,
    LinkPool links,
    CallRegistry registry,
    CallContext ctx,
    RedisKeys keys,
    RedisOutbox outbox,
    RedswitchMetrics metrics,
    ILogger logger)
{
    private readonly IDatabase _db = redis.GetDatabase();

    /// <summary>1 when the member's lease has expired by Redis's clock (or it is not registered). ARGV: member.</summary>
    public const string LapsedScript = InstanceLease.RedisNowMs + """
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not score or tonumber(score) < now then return 1 end
        return 0
        """;

    /// <summary>How often a caller's connection checks whether its call's owner has lapsed yet.</summary>
    public static readonly TimeSpan SocketPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A caller reached this instance, not its call's owner (SPEC §8.1 "Calls being set up"): FreeSWITCH could not
    /// reach the owner, so it is most likely dead. The call is claimed on the spot once the owner's lease has lapsed
    /// (waited for up to INSTANCE_LEASE + 1 s, checked every <see cref="SocketPoll"/>), or found already claimed by
    /// this instance's monitor. Null when it belongs to a live instance or is gone: the connection is refused.
    /// </summary>
    public async Task<CallOwner?> ClaimForSocketAsync(string dialId, string uuid, TimeSpan lease)
    {
        var until = ctx.Time.GetTimestamp() + (long)((lease + TimeSpan.FromSeconds(1)).TotalSeconds * ctx.Time.TimestampFrequency);
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            if (registry.ByUuid(uuid) is { } mine) return mine;
            var holder = (string?)await _db.HashGetAsync(RedisKeys.CallState(dialId), CallState.Owner).ConfigureAwait(false);
            if (holder is null || holder == keys.InstanceId) return registry.ByUuid(uuid);
            var lapsed = holder == CallState.Released ||
                         (long)await _db.ScriptEvaluateAsync(LapsedScript, [RedisKeys.Instances], [holder]).ConfigureAwait(false) == 1;
            if (lapsed)
            {
                var result = await ClaimAsync(dialId, holder).ConfigureAwait(false);
                if (result == ClaimResult.Claimed)
                    using (logger.BeginScope(new DialScope(dialId)))
                        logger.LogInformation("claimed on its caller's connection: FreeSWITCH could not reach {Owner}", holder);
                return result == ClaimResult.NoLink ? null : registry.ByUuid(uuid);
            }
            if (ctx.Time.GetTimestamp() > until) return null; // its owner is alive: not ours to take
            await Task.Delay(SocketPoll, ctx.Time).ConfigureAwait(false);
        }
        return null;
    }

    /// <param name="from">The instance whose lease lapsed (or this one, for its own earlier run).</param>
    /// <param name="indexOf">Whose index set names the call now: <paramref name="from"/>'s, or this instance's when an
    /// earlier attempt moved it and then failed (Redis went away between the two steps).</param>
    /// <param name="released">A hand-off (SPEC §8.1 "Release"): <paramref name="from"/> is alive and draining, so only a
    /// call it released is taken.</param>
    public async Task<ClaimResult> ClaimAsync(string dialId, string from, string? indexOf = null, bool released = false)
    {
        indexOf ??= from;
        if (registry.Contains(dialId)) return ClaimResult.NotOurs;
        var before = ToDictionary(await _db.HashGetAllAsync(RedisKeys.CallState(dialId)).ConfigureAwait(false));
        if (released && before.GetValueOrDefault(CallState.Owner) != CallState.Released) return ClaimResult.NotOurs; // claimed already, or gone
        if (!before.TryGetValue(CallState.Owner, out var holder) || holder != from && holder != CallState.Released)
        {
            // Gone (its grace ended) or held by someone else: the index entry is a leftover.
            await _db.SetRemoveAsync(RedisKeys.Owned(indexOf), dialId).ConfigureAwait(false);
            return ClaimResult.NotOurs;
        }
        if (FindLink(before) is not { } found) return ClaimResult.NoLink;

        // Subscribed before the claim, so no control message falls between the claim and the subscription.
        CallOwner? owner = null;
        OutboxLane? lane = null;
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(dialId)).ConfigureAwait(false);
        CallChannel.Route(queue, dialId, () => lane, () => owner, logger);
        try
        {
            if (!await _db.SetMoveAsync(RedisKeys.Owned(indexOf), RedisKeys.Owned(keys.InstanceId), dialId).ConfigureAwait(false))
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
                return ClaimResult.NotOurs; // another peer moved it first
            }
            var claimed = (RedisResult[]?)await _db.ScriptEvaluateAsync(Redis.Outbox.OutboxScripts.Claim, Redis.Outbox.OutboxScripts.StateKeys(dialId),
                [from, keys.InstanceId, released ? "1" : "0"]).ConfigureAwait(false);
            var fields = Pairs(claimed);
            var handoffMs = fields.Remove(HandoffMs, out var ms) ? Number(ms) : (long?)null;
            if (fields.Count == 0)
            {
                await _db.SetRemoveAsync(RedisKeys.Owned(keys.InstanceId), dialId).ConfigureAwait(false);
                await queue.UnsubscribeAsync().ConfigureAwait(false);
                return ClaimResult.NotOurs;
            }
            var epoch = long.Parse(fields[CallState.Epoch], CultureInfo.InvariantCulture);
            var raw = fields.GetValueOrDefault(CallState.Job);
            var job = raw is null ? null : JobParser.Parse(raw).Job;
            if (job is null || CallSnapshot.From(fields) is not { } snapshot)
            {
                logger.LogError("dial_id {DialId}: its state hash lacks the job or the legs; it cannot be taken over", dialId);
                await queue.UnsubscribeAsync().ConfigureAwait(false);
                return ClaimResult.NotOurs;
            }

            owner = CallOwner.Resumed(job, ctx, found.Link, () => queue.UnsubscribeAsync(), epoch, snapshot);
            if (!registry.TryAdd(owner))
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
                return ClaimResult.NotOurs;
            }
            metrics.CallsLive.Inc();
            _ = owner.Ended.ContinueWith(_ => metrics.CallsLive.Dec(), TaskScheduler.Default);
            lane = outbox.Track(dialId, job.OrgId, job.UserId, job: null);
            var seq = Math.Max(Number(fields, "seq"), Number(fields, "pub"));
            lane.Own(keys.InstanceId, epoch, seq);
            foreach (var (f, v) in fields)
                if (f is not ("seq" or "pub")) lane.Confirm(f, v);
            // The job is settled by the claim: out of the lapsed owner's processing list, never dead-lettered (SPEC §8.1 "Jobs").
            if (raw is not null) await _db.ListRemoveAsync(keys.ProcessingPrefix + from, raw, 1).ConfigureAwait(false);

            TimeSpan? graceLeft = null;
            if (snapshot.EndedAt is { } endedAt)
            {
                var left = endedAt + (long)ctx.Settings.EndedLinger.TotalMilliseconds - ctx.Time.GetUtcNow().ToUnixTimeMilliseconds();
                graceLeft = TimeSpan.FromMilliseconds(Math.Max(0, left));
            }
            metrics.CallsTakenOver.Inc();
            if (handoffMs is { } handoff) metrics.HandoffTime.Observe(handoff / 1000.0);
            using (logger.BeginScope(new DialScope(dialId)))
                logger.LogInformation("took over the call from {From} at epoch {Epoch} ({State}{Restarted}{Handoff})", from, epoch,
                    snapshot.EndedAt is null ? "live" : "ended, in its grace", found.Restarted ? "; its FreeSWITCH node restarted" : "",
                    handoffMs is { } h ? $"; released {h} ms before" : "");
            owner.Resume(found.Restarted, graceLeft);
            return ClaimResult.Claimed;
        }
        catch
        {
            if (owner is null) await queue.UnsubscribeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The link to the call's node: the one with the same Core-UUID, or the one at the same address, which then answers
    /// with another Core-UUID when the node restarted meanwhile (SPEC §8.1).
    /// </summary>
    private (IControlLink Link, bool Restarted)? FindLink(Dictionary<string, string> state)
    {
        var core = state.GetValueOrDefault(CallState.Core) ?? "";
        var node = state.GetValueOrDefault(CallState.Node) ?? "";
        if (core.Length > 0)
            foreach (var l in links.Links)
                if (l.IsUp && l.CoreUuid == core) return (l, false);
        foreach (var l in links.Links)
        {
            if (!l.IsUp || l.Node.ToString() != node) continue;
            return (l, core.Length > 0 && l.CoreUuid is { } now && now != core);
        }
        return null;
    }

    /// <summary>What the claim script adds for a released call: ms since its release (not a field of the hash).</summary>
    private const string HandoffMs = "handoff_ms";

    private static long Number(Dictionary<string, string> f, string name) => f.TryGetValue(name, out var v) ? Number(v) : 0;

    private static long Number(string v) => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static Dictionary<string, string> ToDictionary(HashEntry[] entries)
    {
        var d = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var e in entries) d[(string)e.Name!] = (string?)e.Value ?? "";
        return d;
    }

    private static Dictionary<string, string> Pairs(RedisResult[]? flat)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; flat is not null && i + 1 < flat.Length; i += 2) d[(string)flat[i]!] = (string?)flat[i + 1] ?? "";
        return d;
    }
}
