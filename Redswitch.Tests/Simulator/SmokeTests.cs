using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Simulator;

[TestFixture, CancelAfter(30000)]
public class SimulatorSmokeTests : SimTestBase
{
    [Test]
    public async Task OriginateParkAndKill()
    {
        await using var c = await ConnectAsync();
        Assert.That((await c.CommandAsync("event plain ALL")).ReplyText, Is.EqualTo("+OK event listener enabled plain"));
        var a = NewUuid();
        var result = await c.BgApiAsync($"originate {{origination_uuid={a}}}sofia/gateway/gw/15550000100 &park()");
        Assert.That(result, Is.EqualTo($"+OK {a}\n"));
        await c.WaitForEventAsync("CHANNEL_EXECUTE", a);
        Assert.That(await c.ApiAsync($"uuid_exists {a}"), Is.EqualTo("true"));
        Assert.That(await c.ApiAsync($"uuid_kill {a}"), Is.EqualTo("+OK\n"));
        await c.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
        Assert.That(await c.ApiAsync($"uuid_exists {a}"), Is.EqualTo("false"));
    }
}
