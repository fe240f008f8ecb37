using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

[TestFixture, CancelAfter(30000)]
public class MoreCommandTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o)
    {
        o.AnswerDelay = TimeSpan.FromMilliseconds(20);
        o.FirstCommandTimeout = TimeSpan.FromMilliseconds(400);
    }

    [Test]
    public async Task SilentInboundConnectionGetsGoodbyeAfterTheFirstCommandTimeout()
    {
        await using var c = await EslTestClient.ConnectAsync(Sim.Port);
        await c.WaitForAsync(m => m is AuthRequest);
        var bye = (DisconnectNotice)await c.WaitForAsync(m => m is DisconnectNotice);
        Assert.That(bye.ControlledSessionUuid, Is.Null);
        await c.WaitClosedAsync();
    }

    [Test]
    public async Task OutboundWithoutConnectTimesOutAndLeavesTheChannelParked()
    {
        await using var server = new OutboundTestServer();
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_PARK");
        var a = NewUuid();
        Assert.That(await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 '&socket(127.0.0.1:{server.Port} async full)'"), Is.EqualTo($"+OK {a}\n"));
        await using var s = await server.AcceptAsync();
        var bye = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice);
        Assert.That((bye.Disposition, bye.ControlledSessionUuid), Is.EqualTo(("disconnect", a)));
        await s.WaitClosedAsync();
        await c.WaitForEventAsync("CHANNEL_PARK", a);
        Assert.That(await c.ApiAsync($"uuid_exists {a}"), Is.EqualTo("true"));
    }

    [Test]
    public async Task SchedHangupUuidBroadcastAndUuidPark()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_HANGUP CHANNEL_EXECUTE CHANNEL_PARK");
        var a = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        Assert.That(await c.ApiAsync($"uuid_broadcast {a} /tmp/hello.wav"), Is.EqualTo("+OK Message sent\n"));
        var ex = (EslEvent)await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE" } e && e["Application"] == "playback");
        Assert.That(ex["Application-Data"], Is.EqualTo("/tmp/hello.wav"));
        Assert.That(await c.ApiAsync($"uuid_park {a}"), Is.EqualTo("+OK\n"));
        Assert.That(await c.ApiAsync("uuid_broadcast nope x"), Is.EqualTo("-ERR invalid uuid\n"));
        Assert.That(await c.ApiAsync($"sched_hangup +1 {a}"), Is.EqualTo("+OK\n"));
        var t0 = DateTime.UtcNow;
        var h = (EslEvent)await c.WaitForEventAsync("CHANNEL_HANGUP", a);
        Assert.That(h["Hangup-Cause"], Is.EqualTo("ALLOTTED_TIMEOUT"));
        Assert.That(DateTime.UtcNow - t0, Is.GreaterThan(TimeSpan.FromMilliseconds(700)));
        var b = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={b}}}user/15550000100 &park()");
        Assert.That(await c.ApiAsync($"sched_hangup +0 {b} USER_BUSY"), Is.EqualTo("+OK\n"));
        Assert.That(((EslEvent)await c.WaitForEventAsync("CHANNEL_HANGUP", b))["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
    }

    [Test]
    public async Task SendEventEavesdropCommandChangesTheMode()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_EXECUTE");
        var a = NewUuid(); var g = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        await c.ApiAsync($"originate {{origination_uuid={g}}}user/15550000777 &eavesdrop({a})");
        await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE" } e && e.UniqueId == g);
        var r = await c.CommandAsync("sendevent CUSTOM", ("Unique-ID", g), ("eavesdrop-command", "3"));
        Assert.That(r.ReplyText, Does.StartWith("+OK "));
        Assert.That(await c.ApiAsync($"uuid_getvar {g} eavesdrop_mode"), Is.EqualTo("both"));
    }
}

[TestFixture, CancelAfter(30000)]
public class MoreSocketTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    private async Task<(string A, EslTestClient Inbound, EslTestClient Socket, OutboundTestServer Server)> Call()
    {
        var server = new OutboundTestServer();
        var inbound = await ConnectAsync();
        var a = NewUuid();
        await inbound.CommandAsync($"bgapi originate {{origination_uuid={a}}}user/15550000100 &socket('127.0.0.1:{server.Port} async full')");
        var s = await server.AcceptAsync();
        await s.CommandAsync("connect");
        return (a, inbound, s, server);
    }

    [Test]
    public async Task MyEventsJsonSwitchesTheFormat()
    {
        var (a, i, s, srv) = await Call();
        await using var _1 = i; await using var _2 = s; await using var _3 = srv;
        Assert.That((await s.CommandAsync("myevents json")).ReplyText, Is.EqualTo("+OK Events Enabled"));
        await i.ApiAsync($"uuid_recv_dtmf {a} 7");
        var dtmf = (EslEvent)await s.WaitForEventAsync("DTMF", a);
        Assert.That(dtmf.Format, Is.EqualTo(Redswitch.Protocol.EslEventFormat.Json));
    }

    [Test]
    public async Task FilterJobUuidLetsTheSocketSeeItsOwnBackgroundJob()
    {
        var (a, i, s, srv) = await Call();
        await using var _1 = i; await using var _2 = s; await using var _3 = srv;
        await s.CommandAsync("event plain BACKGROUND_JOB CHANNEL_HANGUP");
        await s.CommandAsync($"filter Unique-ID {a}");
        var r1 = await s.CommandAsync("bgapi uuid_exists nope", ("Job-UUID", "job-hidden"));
        await s.CommandAsync("filter Job-UUID job-seen");
        var r2 = await s.CommandAsync("bgapi uuid_exists nope", ("Job-UUID", "job-seen"));
        var ev = (EslEvent)await s.WaitForAsync(m => m is EslEvent e && e.JobUuid == "job-seen");
        Assert.That(ev["Job-Owner-UUID"], Is.EqualTo(a));
        await Task.Delay(100);
        Assert.That(s.Events.Any(e => e.JobUuid == "job-hidden"), Is.False, "a Unique-ID filter drops BACKGROUND_JOB");
        Assert.That((r1.JobUuid, r2.JobUuid), Is.EqualTo(("job-hidden", "job-seen")));
    }

    [Test]
    public async Task WithoutEventLockASecondAppRunsNestedInsideTheFirst()
    {
        var (a, i, s, srv) = await Call();
        await using var _1 = i; await using var _2 = s; await using var _3 = srv;
        await s.CommandAsync("myevents");
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "sleep"), ("execute-app-arg", "300"), ("Event-UUID", "outer"));
        await s.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE" } e && e["Application-UUID"] == "outer");
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "set"), ("execute-app-arg", "x=1"), ("Event-UUID", "inner"));
        await s.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE_COMPLETE" } e && e["Application-UUID"] == "outer");
        var order = s.Events.Where(e => (e.EventName ?? "").StartsWith("CHANNEL_EXECUTE", StringComparison.Ordinal) && e["Application"] != "socket")
            .Select(e => $"{e.EventName}:{e["Application-UUID"]}").ToList();
        Assert.That(order, Is.EqualTo(new[] { "CHANNEL_EXECUTE:outer", "CHANNEL_EXECUTE:inner", "CHANNEL_EXECUTE_COMPLETE:inner", "CHANNEL_EXECUTE_COMPLETE:outer" }));
    }

    [Test]
    public async Task SendMsgBodyIsTheArgumentAndVariablesAreExpanded()
    {
        var (a, i, s, srv) = await Call();
        await using var _1 = i; await using var _2 = s; await using var _3 = srv;
        await s.SendRawAsync("sendmsg\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\ncontent-length: 29\n\ngreeting=Grüße aus München");
        Assert.That((await s.NextReplyAsync() as CommandReply)!.ReplyText, Is.EqualTo("+OK"));
        await Task.Delay(100);
        Assert.That(await i.ApiAsync($"uuid_getvar {a} greeting"), Is.EqualTo("Grüße aus München"));
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "set"), ("execute-app-arg", "copy=${greeting}/${uuid}"));
        await Task.Delay(100);
        Assert.That(await i.ApiAsync($"uuid_getvar {a} copy"), Is.EqualTo($"Grüße aus München/{a}"));
    }
}

[TestFixture, CancelAfter(30000)]
public class LoopsTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task LoopsRepeatTheApplicationAndStopEarlyWhenARunIsShort()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_EXECUTE_COMPLETE PRIVATE_COMMAND");
        var a = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        await c.CommandAsync($"sendmsg {a}", ("call-command", "execute"), ("execute-app-name", "sleep"), ("execute-app-arg", "550"), ("loops", "2"), ("Event-UUID", "looped"));
        await c.WaitForEventAsync("PRIVATE_COMMAND", a);
        Assert.That(c.Events.Count(e => e.EventName == "CHANNEL_EXECUTE_COMPLETE" && e["Application-UUID"] == "looped"), Is.EqualTo(2));
        var pc = c.Events.First(e => e.EventName == "PRIVATE_COMMAND");
        Assert.That((pc["execute-app-name"], pc["loops"]), Is.EqualTo(("sleep", "2")));
        await c.CommandAsync($"sendmsg {a}", ("call-command", "execute"), ("execute-app-name", "sleep"), ("execute-app-arg", "10"), ("loops", "5"), ("Event-UUID", "short"));
        await c.WaitForAsync(m => m is EslEvent { EventName: "PRIVATE_COMMAND" } e && e["Event-UUID"] == "short");
        Assert.That(c.Events.Count(e => e.EventName == "CHANNEL_EXECUTE_COMPLETE" && e["Application-UUID"] == "short"), Is.EqualTo(1));
    }
}

[TestFixture, CancelAfter(30000)]
public class DivertEventsTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task DivertedDtmfGoesOnlyToTheControllingSocket()
    {
        await using var server = new OutboundTestServer();
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain DTMF");
        var a = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 '&socket(127.0.0.1:{server.Port} async full)'");
        await using var s = await server.AcceptAsync();
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        await c.ApiAsync($"uuid_recv_dtmf {a} 1");
        await s.WaitForEventAsync("DTMF", a);
        await c.WaitForEventAsync("DTMF", a);
        Assert.That((await s.CommandAsync("divert_events on")).ReplyText, Is.EqualTo("+OK events diverted"));
        await c.ApiAsync($"uuid_recv_dtmf {a} 2");
        var d = (EslEvent)await s.WaitForEventAsync("DTMF", a);
        Assert.That(d["DTMF-Digit"], Is.EqualTo("2"));
        await Task.Delay(200);
        Assert.That(c.Events.Count(e => e.EventName == "DTMF"), Is.EqualTo(1), "the inbound connection no longer sees the channel's DTMF");
    }
}

[TestFixture, CancelAfter(30000)]
public class WireToleranceTests : SimTestBase
{
    [Test]
    public async Task CrLfLineEndsAndLeadingBlankLinesAreAccepted()
    {
        await using var c = await EslTestClient.ConnectAsync(Sim.Port);
        await c.WaitForAsync(m => m is AuthRequest);
        await c.SendRawAsync("\r\n\nauth ClueCon\r\n\r\n");
        Assert.That(((CommandReply)await c.NextReplyAsync()).ReplyText, Is.EqualTo("+OK accepted"));
        await c.SendRawAsync("api uuid_exists x\r\n\r\n");
        Assert.That(((ApiResponse)await c.NextReplyAsync()).BodyText, Is.EqualTo("false"));
        await c.SendRawAsync("API uuid_exists x\n\n");
        Assert.That(((ApiResponse)await c.NextReplyAsync()).BodyText, Is.EqualTo("false"));
    }

    [Test]
    public async Task AMalformedFrameClosesOnlyThatConnection()
    {
        await using var good = await ConnectAsync();
        await using var bad = await ConnectAsync();
        await bad.SendRawAsync("sendmsg\nContent-Length: -5\n\n");
        await bad.WaitClosedAsync();
        Assert.That(await good.ApiAsync("uuid_exists x"), Is.EqualTo("false"));
    }
}
