using NUnit.Framework.Interfaces;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;

namespace Redswitch.Tests.Server;

/// <summary>
/// One redis-server for the fixture, a fresh simulator per test on a fixed port (so a test can stop and
/// restart "FreeSWITCH"), and the servers a test starts, stopped after it (their log printed when it failed).
/// </summary>
[Category("e2e")]
public abstract class RedisAndSimulatorTests
{
    protected RedisServer _redis = null!;
    protected SimulatorHost? _sim;
    protected int _simPort;
    private readonly List<ServerHarness> _servers = [];

    [OneTimeSetUp]
    public async Task StartRedis() => _redis = await RedisServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopRedis() => await _redis.DisposeAsync();

    [SetUp]
    public async Task StartSimulator()
    {
        await _redis.FlushAsync();
        _simPort = FreePort.Get();
        _sim = await StartSimAsync();
    }

    protected Task<SimulatorHost> StartSimAsync() =>
        SimulatorHost.StartAsync(new SimulatorOptions { Port = _simPort, HeartbeatInterval = null });

    [TearDown]
    public async Task StopAll()
    {
        var failed = TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed;
        foreach (var s in _servers)
        {
            await s.StopAsync();
            if (failed) TestContext.Out.WriteLine(s.Log.Dump());
        }
        _servers.Clear();
        if (_sim is not null) await _sim.DisposeAsync();
        _sim = null;
    }

    protected async Task<ServerHarness> StartServerAsync(Dictionary<string, string?>? env = null,
        Func<Redswitch.Server.Configuration.RedswitchOptions, Redswitch.Server.Configuration.RedswitchOptions>? tune = null)
    {
        var s = await ServerHarness.StartAsync(_redis, _simPort, env, tune);
        _servers.Add(s);
        return s;
    }

    protected static Task WaitAsync(Func<bool> condition, double seconds, string what) => Waits.UntilAsync(condition, seconds, what);
}
