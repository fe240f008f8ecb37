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

    [Test]
    public async Task UptimeUnitsAreSingularForOne()
    {
        // FreeSWITCH writes "1 day, 2 hours" (mod_commands.c status, switch_core.c heartbeat): a parser that knows
        // only plurals misreads a node's uptime.
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain HEARTBEAT");
        var hb = (EslEvent)await c.WaitForEventAsync("HEARTBEAT");
        var status = await c.ApiAsync("status");
        foreach (var text in new[] { hb["Up-Time"]!, status[3..status.IndexOf('\n')] })
        {
            var parts = text.Split(", ");
            Assert.That(parts, Has.Length.EqualTo(7), text);
            foreach (var part in parts)
            {
                var (n, unit) = (long.Parse(part.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture), part.Split(' ')[1]);
                Assert.That(unit.EndsWith('s'), Is.EqualTo(n != 1), $"'{part}' in '{text}'");
            }
        }
    }
}

[TestFixture, CancelAfter(20000)]
public class EventFormatTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task XmlEventsDecodeWithTheProtocolDecoder()
    {
        await using var c = await ConnectAsync();
        Assert.That((await c.CommandAsync("event xml BACKGROUND_JOB CHANNEL_CREATE")).ReplyText, Is.EqualTo("+OK event listener enabled xml"));
        var a = NewUuid();
        var body = await c.BgApiAsync($"originate {{origination_uuid={a},x=<a&b>}}user/15550000100 &park()");
        Assert.That(body, Is.EqualTo($"+OK {a}\n"));
        var create = (EslEvent)c.Events.First(e => e.EventName == "CHANNEL_CREATE");
        Assert.That(create.Format, Is.EqualTo(Redswitch.Protocol.EslEventFormat.Xml));
        Assert.That(create.UniqueId, Is.EqualTo(a));
        Assert.That(create["variable_x"], Is.EqualTo("<a&b>"));
    }

    [Test]
    public async Task StateCallStateOutgoingAndOriginateEvents()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_OUTGOING CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_DESTROY");
        var a = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_STATE" } e && e.UniqueId == a && e["Channel-State"] == "CS_EXECUTE");
        await c.ApiAsync($"uuid_kill {a}");
        await c.WaitForEventAsync("CHANNEL_DESTROY", a);
        var seq = c.Events.Where(e => e.UniqueId == a).Select(e => e.EventName == "CHANNEL_STATE" ? "STATE:" + e["Channel-State"]
            : e.EventName == "CHANNEL_CALLSTATE" ? "CALLSTATE:" + e["Channel-Call-State"] : e.EventName).ToList();
        Assert.That(seq, Is.EqualTo(new[]
        {
            "CHANNEL_OUTGOING", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "STATE:CS_INIT", "STATE:CS_CONSUME_MEDIA",
            "CALLSTATE:RINGING", "CHANNEL_ANSWER", "CALLSTATE:ACTIVE", "STATE:CS_EXECUTE",
            "STATE:CS_HANGUP", "CALLSTATE:HANGUP", "STATE:CS_REPORTING", "STATE:CS_DESTROY", "CHANNEL_DESTROY",
        }));
        var cs = c.Events.First(e => e.EventName == "CHANNEL_CALLSTATE" && e.UniqueId == a);
        Assert.That((cs["Original-Channel-Call-State"], cs["Channel-Call-State-Number"]), Is.EqualTo(("DOWN", "2")));
    }
}

[TestFixture, CancelAfter(20000)]
public class HostApiTests
{
    [Test]
    public async Task QueriesAfterStopFailInsteadOfHanging()
    {
        var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0 });
        Assert.That(sim.Port, Is.GreaterThan(0));
        Assert.That(await sim.ChannelExistsAsync("x"), Is.False);
        Assert.That(await sim.GetChannelUuidsAsync(), Is.Empty);
        Assert.That(await sim.HangupAsync("x"), Is.False);
        await sim.StopAsync();
        await sim.StopAsync();
        Assert.ThrowsAsync<ObjectDisposedException>(() => sim.ChannelExistsAsync("x"));
    }

    [Test]
    public async Task HostHangupAndVariablesOfALiveChannel()
    {
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, AnswerDelay = TimeSpan.FromMilliseconds(10) });
        await using var c = await EslTestClient.ConnectAuthedAsync(sim.Port);
        await c.CommandAsync("event plain CHANNEL_HANGUP");
        var a = Guid.NewGuid().ToString();
        await c.ApiAsync($"originate {{origination_uuid={a},dial_id=d1}}user/15550000100 &park()");
        Assert.That(await sim.GetChannelUuidsAsync(), Is.EqualTo(new[] { a }));
        Assert.That(await sim.GetVariableAsync(a, "dial_id"), Is.EqualTo("d1"));
        Assert.That(await sim.GetVariableAsync(a, "nothing"), Is.Null);
        Assert.That(await sim.HangupAsync(a, "USER_BUSY"), Is.True);
        var h = (EslEvent)await c.WaitForEventAsync("CHANNEL_HANGUP", a);
        Assert.That(h["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
    }
}
