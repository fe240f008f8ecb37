using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Redswitch.Server.Calls;
using Redswitch.Server.Redis;
using StackExchange.Redis;

namespace Redswitch.Server.Takeover;

/// <summary>
/// A graceful stop that hangs up nothing (SPEC §8 "Graceful stop", <c>DRAIN_MODE=handoff</c>): the instance announces
/// that it drains, then releases each call as soon as it can change hands (bridged, or over and in its grace; see
/// <see cref="CallOwner.TryHandOff"/>) and a live peer claims it at once. Calls still being set up are served until they
/// can be released or end.
/// </summary>
public sealed class HandoffDrain(IConnectionMultiplexer redis, CallRegistry registry, string instanceId, ILogger logger)
{
    /// <summary>
    /// Marks this instance draining (a peer neither hands calls to it nor lists it as a socket host) and counts the live
    /// peers that are not draining, by Redis's clock. ARGV: this instance.
    /// </summary>
    public const string AnnounceScript = InstanceLease.RedisNowMs + """
        redis.call('SADD', KEYS[2], ARGV[1])
        local peers = 0
        for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
          if m ~= ARGV[1] and redis.call('SISMEMBER', KEYS[2], m) == 0 then peers = peers + 1 end
        end
        return peers
        """;

    public static RedisKey[] AnnounceKeys => [RedisKeys.Instances, RedisKeys.Draining];

    private volatile bool _active;

    /// <summary>Calls are being released: each one goes as soon as it can (checked after each of its inputs).</summary>
    public bool Active => _active;

    /// <summary>
    /// Announces the drain (also in hang-up mode: a stopping instance is nobody's peer) and counts the live peers that
    /// can take calls; tried for up to <paramref name="within"/> while Redis fails. 0: no hand-off (SPEC §8 hang-up drain).
    /// </summary>
    public async Task<long> AnnounceAsync(TimeSpan within)
    {
        var sw = Stopwatch.StartNew();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (await PeersAsync().ConfigureAwait(false) is { } peers) return peers;
            if (sw.Elapsed >= within) break;
            await Task.Delay(200).ConfigureAwait(false);
        }
        // Nobody could claim a released call without Redis anyway.
        logger.LogWarning("stopping: cannot reach Redis to look for live peers; draining without hand-off");
        return 0;
    }

    /// <summary>Live peers that are not draining; null when Redis did not answer (unknown, not none).</summary>
    private async Task<long?> PeersAsync()
    {
        try
        {
            return (long)await redis.GetDatabase().ScriptEvaluateAsync(AnnounceScript, AnnounceKeys, [instanceId]).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// Releases every call that can change hands, and the others as they become able to, until none is left (and no
    /// job is still being taken: <paramref name="jobsStopped"/>) or <paramref name="timeUp"/>. Looks for live peers
    /// every second: false when none is left (the rest of the calls then stay here, as in a hang-up drain).
    /// </summary>
    public async Task<bool> RunAsync(Task jobsStopped, Func<bool> timeUp)
    {
        _active = true;
        var looked = Stopwatch.StartNew();
        // Each call is also tried after each of its own inputs; these passes catch the ones that are ready now, and are
        // the backstop for a call whose last input came before the drain.
        for (var i = 0; (registry.Count > 0 || !jobsStopped.IsCompleted) && !timeUp(); i++)
        {
            foreach (var owner in registry.All) owner.TryHandOff();
            if (looked.Elapsed >= PeerCheck)
            {
                looked.Restart();
                // (a failed look is no verdict: released calls wait in Redis, and the next look decides)
                if (await PeersAsync().ConfigureAwait(false) == 0)
                {
                    _active = false;
                    logger.LogWarning("stopping: no live peer any more; the {Live} call(s) still here are served until they end or DRAIN_TIMEOUT",
                        registry.Live);
                    return false;
                }
            }
            await Task.Delay(i < 20 ? 10 : 50).ConfigureAwait(false);
        }
        _active = false;
        return true;
    }

    /// <summary>How often the drain checks that a live peer is still there to claim what it releases.</summary>
    public static readonly TimeSpan PeerCheck = TimeSpan.FromSeconds(1);

    /// <summary>After the timeout: calls that ended meanwhile (hung up by the drain) are still handed over for their grace.</summary>
    public async Task ReleaseEndedAsync(TimeSpan within)
    {
        _active = true;
        var sw = Stopwatch.StartNew();
        while (registry.Count > 0 && sw.Elapsed < within)
        {
            foreach (var owner in registry.All) owner.TryHandOff();
            await Task.Delay(20).ConfigureAwait(false);
        }
        _active = false;
    }
}
