using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

/// <summary>Starts one simulator per test on a free loopback port.</summary>
public abstract class SimTestBase
{
    protected SimulatorHost Sim = null!;

    protected virtual void Configure(SimulatorOptions o) { }

    [SetUp]
    public async Task StartSimulator()
    {
        var o = new SimulatorOptions { Port = 0, HeartbeatInterval = null };
        Configure(o);
        Sim = await SimulatorHost.StartAsync(o);
    }

    [TearDown]
    public async Task StopSimulator() => await Sim.StopAsync();

    protected Task<EslTestClient> ConnectAsync() => EslTestClient.ConnectAuthedAsync(Sim.Port);

    protected static string NewUuid() => Guid.NewGuid().ToString();
}
