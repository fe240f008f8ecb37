using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>The server as operators start it: a real process, configured from the environment (SPEC §2, §8, §11).</summary>
[Category("e2e")]
[NonParallelizable]
public class ProcessTests
{
    [Test]
    public async Task BadConfigurationExitsNonZeroWithOneLinePerValue()
    {
        await using var p = new ServerProcess(new()
        {
            ["RING_TIMEOUT"] = "soon",
            ["OUTBOUND_ALLOW"] = "10.0.0.0/40",
            ["PUBSUB_REDIS_URL"] = "redis://admin:hunter2@127.0.0.1:notaport",
        });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        var err = p.Err.ToList();
        Assert.That(err, Has.Count.EqualTo(3), string.Join("\n", err));
        Assert.That(err.Count(l => l.Contains("RING_TIMEOUT=")), Is.EqualTo(1));
        Assert.That(err.Count(l => l.Contains("OUTBOUND_ALLOW=")), Is.EqualTo(1));
        Assert.That(err.Count(l => l.Contains("PUBSUB_REDIS_URL=")), Is.EqualTo(1));
        Assert.That(string.Join("\n", err), Does.Not.Contain("hunter2"));
    }

    [Test]
    public async Task UnreachableRedisExitsNonZeroWithOneClearLine()
    {
        await using var p = new ServerProcess(new()
        {
            ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}",
            ["PUBSUB_REDIS_TIMEOUT"] = "1",
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
        });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        var err = p.Err.ToList();
        Assert.That(err, Has.Count.EqualTo(1), string.Join("\n", err));
        Assert.That(err[0], Does.Contain("PUBSUB_REDIS_URL=").And.Contain("cannot connect to Redis"));
    }

    [Test]
    public async Task SigtermKeepsServingTheLiveCallTakesNoNewJobAndExitsZero()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        await using var p = new ServerProcess(new()
        {
            ["ESL_URL"] = $"127.0.0.1:{sim.Port}",
            ["PUBSUB_REDIS_URL"] = redis.Url,
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
            ["DRAIN_TIMEOUT"] = "20",
            ["INSTANCE_ID"] = "proc-1",
            ["LOG_FORMAT"] = "json",
        });
        await p.WaitForOutputAsync("Redswitch ready", 30);
        Assert.That(p.Out.First(l => l.Contains("Redswitch ready")), Does.Contain("connected"));
        foreach (var line in p.Out) Assert.DoesNotThrow(() => System.Text.Json.JsonDocument.Parse(line), line);

        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(redis.Client, dialId);
        await PushAsync(redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1, 10);

        p.Terminate();
        await Task.Delay(2500); // a BLMOVE in flight returns within its block time
        await PushAsync(redis, Call(NewDialId()));
        await Task.Delay(1000);
        Assert.That(await redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "no job taken while stopping");

        await watch.SendAsync("""{"type": "hangup"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup")));
        var tail = await watch.CollectAsync(IsHangup, 2);
        Assert.That(tail, Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        Assert.That(await p.ExitAsync(15), Is.Zero, string.Join("\n", p.Err));
        var ended = p.Out.Single(l => l.Contains("call ended"));
        using var doc = System.Text.Json.JsonDocument.Parse(ended);
        Assert.That(doc.RootElement.GetProperty("Scopes")[0].GetProperty("dial_id").GetString(), Is.EqualTo(dialId));
        Assert.That(string.Join("\n", p.Out), Does.Not.Contain("15105625882"), "phone numbers are masked");
        Assert.That(await redis.Db.ListLengthAsync(JobList), Is.EqualTo(1));
        Assert.That(await redis.Db.ListLengthAsync($"{{{JobList}}}.processing.proc-1"), Is.Zero);
    }
}
