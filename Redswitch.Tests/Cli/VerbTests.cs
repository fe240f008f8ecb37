using System.Text.Json;
using System.Text.RegularExpressions;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using Redswitch.Tests.Server;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

/// <summary>
/// The operator's verbs (SPEC §10) as an operator runs them: <c>dotnet Redswitch.Server.dll &lt;verb&gt;</c>, a real
/// process with the service's environment, against a redis-server, the simulator and a running instance. Each verb's
/// success and its clear failure: exit code, what it prints, and what it did (or did not do) in Redis.
/// </summary>
[Category("e2e")]
[NonParallelizable]
public partial class VerbTests
{
    private RedisServer _redis = null!;
    private SimulatorHost _sim = null!;
    private ServerHarness _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _redis = await RedisServer.StartAsync();
        _sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        _server = await ServerHarness.StartAsync(_redis, _sim.Port, new() { ["INSTANCE_ID"] = "cli-owner" });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _server.DisposeAsync();
        await _sim.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>The environment an operator has beside the instance: the same variables.</summary>
    private Dictionary<string, string> Env(Dictionary<string, string>? extra = null)
    {
        var env = new Dictionary<string, string>
        {
            ["PUBSUB_REDIS_URL"] = _redis.Url,
            ["ESL_URL"] = $"127.0.0.1:{_sim.Port}",
            ["METRICS_LISTEN"] = $"127.0.0.1:{_server.MetricsUri.Port}",
        };
        if (extra is not null) foreach (var kv in extra) env[kv.Key] = kv.Value;
        return env;
    }

    private sealed record Run(int Code, string[] Out, string[] Err)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{string.Join("\n", Out)}\n--- stderr\n{string.Join("\n", Err)}";
    }

    private static async Task<Run> RunAsync(Dictionary<string, string> env, params string[] args)
    {
        await using var p = new ServerProcess(env, args);
        var code = await p.ExitAsync(60);
        return new Run(code, [.. p.Out], [.. p.Err]);
    }

    /// <summary>A failure as SPEC §10 wants it: non-zero, exactly one line on stderr, no stack trace.</summary>
    private static void AssertOneClearLine(Run r, int code, string contains)
    {
        Assert.That(r.Code, Is.EqualTo(code), r.ToString());
        Assert.That(r.Err, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.Err[0], Does.Match("^redswitch[ :]").And.Contain(contains), r.ToString());
        Assert.That(string.Join("\n", r.Out.Concat(r.Err)), Does.Not.Match(@"^\s+at |Exception:"), r.ToString());
    }

    private static readonly Regex Stamped = new(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\{.*\})$");

    /// <summary>The channel messages a verb printed, without their timestamps (each line must have one).</summary>
    private static List<string> Messages(IEnumerable<string> lines) =>
        lines.Where(l => l.Length > 0 && char.IsDigit(l[0])).Select(l =>
        {
            var m = Stamped.Match(l);
            Assert.That(m.Success, Is.True, $"not '<ISO timestamp> <message>': {l}");
            return m.Groups[1].Value;
        }).ToList();

    private async Task<string> LiveCallAsync(string? org = null)
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, org: org ?? Org));
        await watch.CollectAsync(m => m == Answer(1), 1, 10);
        return dialId;
    }

    [Test]
    public async Task HelpListsEveryVerbAndEachVerbHasHelp()
    {
        var root = await RunAsync(Env(), "--help");
        Assert.That(root.Code, Is.Zero, root.ToString());
        foreach (var verb in new[] { "push", "send", "watch", "calls", "dead", "check" })
        {
            Assert.That(root.Out, Has.Some.Match($@"^\s+{verb}\b"), root.ToString());
            var help = await RunAsync(Env(), verb, "--help");
            Assert.That(help.Code, Is.Zero, help.ToString());
            Assert.That(string.Join("\n", help.Out), Does.Contain("Usage:").And.Contain(verb), help.ToString());
        }
    }

    [Test]
    public async Task AnUnknownVerbOrOptionIsOneLineAndExitTwo()
    {
        AssertOneClearLine(await RunAsync(Env(), "dial"), 2, "'dial'");
        AssertOneClearLine(await RunAsync(Env(), "calls", "--colour"), 2, "--colour");
        AssertOneClearLine(await RunAsync(Env(), "send", "x-1", "shout"), 2, "shout");
    }

    [Test]
    public async Task BadConfigurationIsOneLineNamingTheVariable()
    {
        var r = await RunAsync(Env(new() { ["PUBSUB_REDIS_URL"] = "redis://admin:hunter2@127.0.0.1:notaport" }), "calls");
        AssertOneClearLine(r, 1, "PUBSUB_REDIS_URL=");
        Assert.That(r.Err[0], Does.Not.Contain("hunter2"));
    }
}
