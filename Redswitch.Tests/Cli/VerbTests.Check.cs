using Redswitch.Tests.Infrastructure;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    [Test]
    public async Task CheckReportsRedisAndEachNodeWithTheServicesCredentials()
    {
        var r = await RunAsync(Env(), "check");
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(r.Err, Is.Empty, r.ToString());
        Assert.That(r.Out, Has.Length.EqualTo(2), r.ToString());
        Assert.That(r.Out[0], Does.StartWith($"redis {_redis.Url}: ok;").And.Contain("instance(s) live (cli-owner)"), r.ToString());
        Assert.That(r.Out[1], Does.StartWith($"freeswitch 127.0.0.1:{_sim.Port}: ok; authenticated; FreeSWITCH (Version").And.Contain("core "), r.ToString());
    }

    [Test]
    public async Task CheckWithAWrongEslPasswordFailsNamingIt()
    {
        var r = await RunAsync(Env(new() { ["ESL_PASSWORD"] = "not-the-password" }), "check");
        AssertOneClearLine(r, 1, "1 of 2 failed");
        Assert.That(r.Out, Has.One.EqualTo($"freeswitch 127.0.0.1:{_sim.Port}: FAILED: authentication refused (ESL_PASSWORD)"), r.ToString());
        Assert.That(r.Out, Has.One.StartWith("redis ").And.Contain(": ok;"), r.ToString());
        Assert.That(string.Join("\n", r.Out), Does.Not.Contain("not-the-password"));
    }

    [Test]
    public async Task CheckWithRedisDownAndANodeDownReportsBoth()
    {
        var r = await RunAsync(Env(new()
        {
            ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}",
            ["PUBSUB_REDIS_TIMEOUT"] = "2",
            ["ESL_URL"] = $"127.0.0.1:{_sim.Port},127.0.0.1:{FreePort.Get()}",
        }), "check");
        AssertOneClearLine(r, 1, "2 of 3 failed");
        Assert.That(r.Out, Has.One.Match("^redis: FAILED: cannot connect to Redis at redis://127.0.0.1:[0-9]+ \\(PUBSUB_REDIS_URL\\): 127.0.0.1:[0-9]+: connection refused$"), r.ToString());
        Assert.That(r.Out, Has.One.Match("^freeswitch 127.0.0.1:[0-9]+: FAILED: cannot connect"), r.ToString());
        Assert.That(r.Out, Has.One.StartWith($"freeswitch 127.0.0.1:{_sim.Port}: ok;"), r.ToString());
        Assert.That(string.Join("\n", r.Out), Does.Not.Contain("abortConnect"), "no client-library advice");
    }

    [Test]
    public async Task CheckLocalAsksOnlyTheInstancesHealthz()
    {
        // Redis and FreeSWITCH settings that point nowhere: --local must not care (an outage is no reason to restart).
        // A host name that does not resolve (a DNS outage) and a bad unrelated setting: neither is the health check's business.
        var ok = await RunAsync(Env(new() { ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}", ["ESL_URL"] = "fs1.invalid", ["RING_TIMEOUT"] = "soon" }),
            "check", "--local");
        Assert.That(ok.Code, Is.Zero, ok.ToString());
        Assert.That(ok.Out, Is.EqualTo(new[] { $"http://127.0.0.1:{_server.MetricsUri.Port}/healthz: alive" }), ok.ToString());

        var nobody = await RunAsync(Env(new() { ["METRICS_LISTEN"] = $"127.0.0.1:{FreePort.Get()}" }), "check", "--local", "--seconds", "2");
        AssertOneClearLine(nobody, 1, "/healthz");
    }
}
