using System.Diagnostics;
using Moq;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;

namespace Redswitch.Tests.Ops;

/// <summary>The scrape-time sample of the job list and dead-letter lengths: fresh, bounded, never a stale number.</summary>
public class JobListSamplerTests
{
    private static readonly RedisKeys Keys = new("jobs-x", "inst-1");

    private static (RedswitchMetrics, Mock<IDatabase>) Sampled(bool connected = true)
    {
        var metrics = new RedswitchMetrics();
        var db = new Mock<IDatabase>();
        var redis = new Mock<IConnectionMultiplexer>();
        redis.Setup(r => r.IsConnected).Returns(connected);
        redis.Setup(r => r.GetDatabase(It.IsAny<int>(), It.IsAny<object?>())).Returns(db.Object);
        JobListSampler.Attach(metrics, redis.Object, Keys);
        return (metrics, db);
    }

    [Test]
    public async Task AHungRedisHoldsAScrapeOnlyBrieflyAndOneReadServesConcurrentScrapes()
    {
        var (metrics, db) = Sampled();
        var hung = new TaskCompletionSource<long>();
        db.Setup(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>())).Returns(hung.Task);

        var sw = Stopwatch.StartNew();
        var scrapes = await Task.WhenAll(OpsFiles.ScrapeAsync(metrics.Registry), OpsFiles.ScrapeAsync(metrics.Registry));
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(JobListSampler.Wait - TimeSpan.FromMilliseconds(50)).And.LessThan(JobListSampler.Wait * 3));
        db.Verify(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>()), Times.Exactly(2)); // one read: two LLENs
        foreach (var text in scrapes)
        {
            var e = new Exposition(text);
            Assert.That(e.Value("redswitch_redis_reachable"), Is.Zero);
            Assert.That(e.HasSeries("redswitch_jobs_backlog"), Is.False, "no stale or made-up length");
            Assert.That(e.HasSeries("redswitch_dead_letters"), Is.False);
        }

        // a later scrape joins the read still in flight rather than piling another on the hung server
        await OpsFiles.ScrapeAsync(metrics.Registry);
        db.Verify(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>()), Times.Exactly(2));

        // the late answer lands; the next scrape reads afresh
        hung.SetResult(4);
        db.Setup(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>())).ReturnsAsync(7);
        var after = new Exposition(await OpsFiles.ScrapeAsync(metrics.Registry));
        Assert.That(after.Value("redswitch_jobs_backlog"), Is.EqualTo(7));
        Assert.That(after.Value("redswitch_dead_letters"), Is.EqualTo(7));
        Assert.That(after.Value("redswitch_redis_reachable"), Is.EqualTo(1));
    }

    [Test]
    public async Task AFailingOrDisconnectedRedisNeverFailsTheScrape()
    {
        var (metrics, db) = Sampled();
        db.Setup(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>()))
            .ThrowsAsync(new RedisConnectionException(ConnectionFailureType.SocketFailure, "gone"));
        var e = new Exposition(await OpsFiles.ScrapeAsync(metrics.Registry));
        Assert.That(e.Value("redswitch_redis_reachable"), Is.Zero);
        Assert.That(e.HasSeries("redswitch_jobs_backlog"), Is.False);
        Assert.That(e.HasSeries("redswitch_build_info"), Is.True, "the rest of the scrape is there");

        var (offline, offlineDb) = Sampled(connected: false);
        var o = new Exposition(await OpsFiles.ScrapeAsync(offline.Registry));
        Assert.That(o.Value("redswitch_redis_reachable"), Is.Zero);
        offlineDb.Verify(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>()), Times.Never, "no command to a client with no connection");
    }

    [Test]
    public async Task NothingIsReadUntilSomeoneScrapes()
    {
        var (metrics, db) = Sampled();
        db.Setup(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>())).ReturnsAsync(0);
        db.Verify(d => d.ListLengthAsync(It.IsAny<RedisKey>(), It.IsAny<CommandFlags>()), Times.Never);
        await OpsFiles.ScrapeAsync(metrics.Registry);
        db.Verify(d => d.ListLengthAsync((RedisKey)Keys.JobList, It.IsAny<CommandFlags>()), Times.Once);
        db.Verify(d => d.ListLengthAsync((RedisKey)"{jobs-x}.dead", It.IsAny<CommandFlags>()), Times.Once);
    }
}

/// <summary>The sampler against a real redis-server: the lengths follow the lists, and a Redis that goes away and comes back.</summary>
[Category("e2e")]
[NonParallelizable]
public class JobListSamplerRedisTests
{
    [Test]
    public async Task BacklogAndDeadLettersFollowTheListsAndGoAwayWithRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{redis.Port},abortConnect=false,connectTimeout=1000");
        options.BacklogPolicy = BacklogPolicy.FailFast; // as the service's client
        await using var client = await ConnectionMultiplexer.ConnectAsync(options);
        var metrics = new RedswitchMetrics();
        var keys = new RedisKeys("jobs-x", "inst-1");
        JobListSampler.Attach(metrics, client, keys);

        async Task<Exposition> Scrape() => new(await OpsFiles.ScrapeAsync(metrics.Registry));

        var e = await Scrape();
        Assert.That((e.Value("redswitch_jobs_backlog"), e.Value("redswitch_dead_letters"), e.Value("redswitch_redis_reachable")), Is.EqualTo((0d, 0d, 1d)));

        await redis.Db.ListLeftPushAsync(keys.JobList, ["a", "b", "c"]);
        Assert.That((await Scrape()).Value("redswitch_jobs_backlog"), Is.EqualTo(3));
        await redis.Db.ListLeftPopAsync(keys.JobList);
        await redis.Db.ListRightPushAsync(keys.Dead, ["x", "y"]);
        e = await Scrape();
        Assert.That((e.Value("redswitch_jobs_backlog"), e.Value("redswitch_dead_letters")), Is.EqualTo((2d, 2d)));
        await redis.Db.ListLeftPopAsync(keys.Dead);
        Assert.That((await Scrape()).Value("redswitch_dead_letters"), Is.EqualTo(1));

        await redis.KillAsync();
        await Waits.UntilAsync(() => !client.IsConnected, 10, "the client to see Redis gone");
        var sw = Stopwatch.StartNew();
        e = await Scrape();
        Assert.That(sw.Elapsed, Is.LessThan(JobListSampler.Wait + TimeSpan.FromSeconds(1)));
        Assert.That(e.Value("redswitch_redis_reachable"), Is.Zero);
        Assert.That(e.HasSeries("redswitch_jobs_backlog") || e.HasSeries("redswitch_dead_letters"), Is.False, "no length while Redis cannot be read");

        // a fresh redis-server (no persistence): reachable again, lists empty
        await redis.RestartAsync();
        await Waits.UntilAsync(async () => (await Scrape()).Value("redswitch_redis_reachable") == 1, 15, "reachable again");
        e = await Scrape();
        Assert.That((e.Value("redswitch_jobs_backlog"), e.Value("redswitch_dead_letters")), Is.EqualTo((0d, 0d)));
    }
}
