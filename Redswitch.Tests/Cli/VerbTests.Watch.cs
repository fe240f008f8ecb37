using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    [Test]
    public async Task WatchPrintsEachMessageWithATimestampUntilStopped()
    {
        var dialId = NewDialId();
        await using var p = new ServerProcess(Env(), "watch", dialId);
        await Waits.UntilAsync(() => p.Err.Any(l => l.StartsWith($"watching {dialId}", StringComparison.Ordinal)) || p.HasExited, 30, "watch subscribed");
        await _redis.Db.PublishAsync(RedisChannel.Literal(dialId), "{\"type\": \"hangup\"}");
        await _redis.Db.PublishAsync(RedisChannel.Literal(dialId), "not json at all");
        await Waits.UntilAsync(() => p.Out.Count >= 2 || p.HasExited, 10, "two lines");
        p.Terminate();
        Assert.That(await p.ExitAsync(10), Is.Zero, p.Dump());
        Assert.That(p.Out.Select(l => l[25..]), Is.EqualTo(new[] { "{\"type\": \"hangup\"}", "not json at all" }), p.Dump());
        Assert.That(p.Out.Select(l => l[..25]), Has.All.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z $"), p.Dump());
    }

    [Test]
    public async Task WatchWithRedisDownSaysSoInOneLine()
    {
        var r = await RunAsync(Env(new() { ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}", ["PUBSUB_REDIS_TIMEOUT"] = "2" }), "watch", NewDialId());
        AssertOneClearLine(r, 1, "cannot connect to Redis");
    }
}
