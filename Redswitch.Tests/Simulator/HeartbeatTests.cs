using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

[TestFixture, CancelAfter(20000)]
public class HeartbeatTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);

    [Test]
    public async Task HeartbeatCarriesSessionCounters()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain HEARTBEAT");
        var hb = (EslEvent)await c.WaitForEventAsync("HEARTBEAT");
        Assert.That((hb["Event-Info"], hb["Session-Count"], hb["Session-Since-Startup"]), Is.EqualTo(("System Ready", "0", "0")));
    }
}
