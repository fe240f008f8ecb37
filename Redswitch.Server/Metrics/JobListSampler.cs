using Redswitch.Server.Redis;
using StackExchange.Redis;

namespace Redswitch.Server.Metrics;

/// <summary>
/// <c>redswitch_jobs_backlog</c> (LLEN of JOB_LIST), <c>redswitch_dead_letters</c> (LLEN of its dead-letter list) and
/// <c>redswitch_redis_reachable</c>, read when /metrics is scraped rather than on a timer: an instance nobody scrapes
/// sends Redis nothing for them, and each scrape gets the lengths as they are now. Both LLENs go out in one round
/// trip; concurrent scrapes share one read, and a scrape waits for it at most <see cref="Wait"/>.
/// A read that fails or is late never leaves a stale length behind: both lengths are withdrawn from /metrics until a
/// read answers again, and <c>redswitch_redis_reachable</c> is 0 (the direct proof for the "Redis unreachable" alert,
/// idle or not; the outbox and the error counter only show it when there is traffic).
/// </summary>
public sealed class JobListSampler
{
    /// <summary>The longest a scrape waits for Redis.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(1);

    private readonly RedswitchMetrics _metrics;
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisKeys _keys;
    private readonly object _gate = new();
    private Task _reading = Task.CompletedTask;

    private JobListSampler(RedswitchMetrics metrics, IConnectionMultiplexer redis, RedisKeys keys)
    {
        _metrics = metrics;
        _redis = redis;
        _keys = keys;
    }

    /// <summary>Samples at every scrape of <paramref name="metrics"/>'s registry from now on (the registry keeps it alive).</summary>
    public static JobListSampler Attach(RedswitchMetrics metrics, IConnectionMultiplexer redis, RedisKeys keys)
    {
        var sampler = new JobListSampler(metrics, redis, keys);
        metrics.Registry.AddBeforeCollectCallback(sampler.BeforeCollectAsync);
        return sampler;
    }

    /// <summary>One sample, as a scrape takes it: never throws, returns within <see cref="Wait"/>.</summary>
    public async Task BeforeCollectAsync(CancellationToken cancel)
    {
        Task reading;
        lock (_gate)
        {
            // A read still in flight (Redis slow, an earlier scrape gave up on it) is joined, not doubled.
            if (_reading.IsCompleted) _reading = ReadAsync();
            reading = _reading;
        }
        try
        {
            await reading.WaitAsync(Wait, cancel).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Withdraw();
        }
        catch (OperationCanceledException)
        {
            // the scrape was abandoned: nothing to report to
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            if (!_redis.IsConnected)
            {
                Withdraw();
                return;
            }
            var db = _redis.GetDatabase();
            var backlog = db.ListLengthAsync(_keys.JobList);
            var dead = db.ListLengthAsync(_keys.Dead);
            await Task.WhenAll(backlog, dead).ConfigureAwait(false);
            _metrics.JobsBacklog.Set(backlog.Result);
            _metrics.DeadLetters.Set(dead.Result);
            _metrics.RedisReachable.Set(1);
        }
        catch (Exception)
        {
            // Whatever Redis or a closed client throws, a sample must not fail the scrape: it only says "not known".
            Withdraw();
        }
    }

    private void Withdraw()
    {
        _metrics.JobsBacklog.Unpublish();
        _metrics.DeadLetters.Unpublish();
        _metrics.RedisReachable.Set(0);
    }
}
