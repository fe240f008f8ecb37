using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

/// <summary>Outbound socket modes, linger, myevents, sendmsg and the call flows of SPEC §7 over real sockets.</summary>
[TestFixture, CancelAfter(30000)]
public class SocketTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o)
    {
        o.AnswerDelay = TimeSpan.FromMilliseconds(30);
        o.HangupDelay = TimeSpan.FromMilliseconds(300);
    }

    private OutboundTestServer _server = null!;
    private EslTestClient _inbound = null!;

    [SetUp]
    public async Task Open()
    {
        _server = new OutboundTestServer();
        _inbound = await ConnectAsync();
        await _inbound.CommandAsync("event plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE");
    }

    [TearDown]
    public async Task Close()
    {
        await _inbound.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>Originates an A-leg into the socket app and returns the accepted outbound connection.</summary>
    private async Task<(string A, EslTestClient Socket)> CallIntoSocket(string mode = "async full", string vars = "")
    {
        var a = NewUuid();
        await _inbound.CommandAsync($"bgapi originate {{origination_uuid={a}{vars}}}sofia/gateway/gw/15550000100 &socket('127.0.0.1:{_server.Port} {mode}')");
        var s = await _server.AcceptAsync();
        return (a, s);
    }

    [Test]
    public async Task NothingBeforeConnectAndFirstOtherCommandGetsNoReply()
    {
        var (a, s) = await CallIntoSocket();
        await using var _ = s;
        await Task.Delay(150);
        Assert.That(s.All, Is.Empty, "the simulator must send nothing before connect");
        await s.SendAsync("myevents");
        var connect = await s.CommandAsync("connect");
        Assert.That(connect.IsConnectReply, Is.True, "the reply to myevents was dropped, so the first reply is connect's");
        Assert.That(connect.ChannelData["Unique-ID"], Is.EqualTo(a));
        Assert.That(connect.ChannelData["variable_socket_host"], Is.EqualTo("127.0.0.1"));
        Assert.That(connect.ReplyText, Is.EqualTo("+OK\n"));
        Assert.That((await s.CommandAsync("myevents")).ReplyText, Is.EqualTo("-ERR aready enabled."));
    }

    [Test]
    public async Task NonFullSocketRefusesGatedCommands()
    {
        var (_, s) = await CallIntoSocket("async");
        await using var __ = s;
        var c = await s.CommandAsync("connect");
        Assert.That(c.Control, Is.EqualTo("single-channel"));
        foreach (var cmd in new[] { "linger", "event plain ALL", "api status", "bgapi status", "nixevent ALL", "noevents", "log 7", "nolog", "nolinger", "sendevent CUSTOM" })
            Assert.That((await s.CommandAsync(cmd)).ReplyText, Is.EqualTo("-ERR command not found"), cmd);
        Assert.That((await s.CommandAsync("myevents")).ReplyText, Is.EqualTo("+OK Events Enabled"));
        Assert.That((await s.CommandAsync("getvar uuid")).ReplyText, Is.Not.Empty.And.Not.StartWith("-ERR"));
        Assert.That((await s.CommandAsync("filter Unique-ID x")).ReplyText, Is.EqualTo("+OK filter added. [Unique-ID]=[x]"));
        Assert.That((await s.CommandAsync("filter delete all")).ReplyText, Is.EqualTo("+OK filter deleted. [all][]"));
        Assert.That((await s.CommandAsync("divert_events off")).ReplyText, Is.EqualTo("+OK events not diverted"));
        Assert.That((await s.CommandAsync("resume")).ReplyText, Is.EqualTo("+OK"));
    }

    [Test]
    public async Task MyEventsPassesOnlyTheOwnChannelAndLingerNoticeComesAfterHangupComplete()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        Assert.That((await s.CommandAsync("myevents")).ReplyText, Is.EqualTo("+OK Events Enabled"));
        Assert.That((await s.CommandAsync("linger")).ReplyText, Is.EqualTo("+OK will linger"));
        // another call must not show up here (CHANNEL_PARK races with myevents, so it is optional below)
        Assert.That(await _inbound.ApiAsync("originate user/15550000101 &park()"), Does.StartWith("+OK"));
        Assert.That((await s.CommandAsync("sendmsg", ("call-command", "hangup"), ("hangup-cause", "USER_BUSY"))).ReplyText, Is.EqualTo("+OK"));
        var notice = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice);
        Assert.That((notice.Disposition, notice.LingerTime, notice.ControlledSessionUuid), Is.EqualTo(("linger", (int?)-1, a)));
        var names = s.Events.Select(e => e.EventName).Where(n => n != "CHANNEL_PARK").ToList();
        // esl-protocol.md §3.7, the observed hangup sequence of an async socket
        Assert.That(names, Is.EqualTo(new[] { "CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE" }));
        Assert.That(s.Events.Where(e => e.EventName == "CHANNEL_STATE").Select(e => e["Channel-State"]), Is.EqualTo(new[] { "CS_HANGUP", "CS_REPORTING" }));
        Assert.That(s.Events.Where(e => e.EventName == "CHANNEL_STATE").Any(e => e.EventHeaders.Any(h => h.Name.StartsWith("variable_"))), Is.False);
        Assert.That(s.Events.All(e => e.UniqueId == a), Is.True);
        Assert.That(s.Events.First(e => e.EventName == "CHANNEL_HANGUP")["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
        Assert.That((await s.CommandAsync("exit")).ReplyText, Is.EqualTo("+OK bye"));
        var bye = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice { Disposition: "disconnect" });
        Assert.That(bye.BodyText, Is.EqualTo(DisconnectNotice.GoodbyeText));
        await s.WaitClosedAsync();
    }

    [Test]
    public async Task WithoutLingerTheSocketClosesAfterTheHangup()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        Assert.That(await _inbound.ApiAsync($"uuid_kill {a}"), Is.EqualTo("+OK\n"));
        var bye = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice);
        Assert.That(bye.Disposition, Is.EqualTo("disconnect"));
        await s.WaitClosedAsync();
    }

    [Test]
    public async Task LingerWithSecondsClosesAfterThatTime()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        Assert.That((await s.CommandAsync("linger 1")).ReplyText, Is.EqualTo("+OK will linger 1 seconds"));
        Assert.That((await s.CommandAsync("nolinger")).ReplyText, Is.EqualTo("+OK will not linger"));
        Assert.That((await s.CommandAsync("linger 1")).ReplyText, Is.EqualTo("+OK will linger 1 seconds"));
        await _inbound.ApiAsync($"uuid_kill {a}");
        var linger = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice);
        Assert.That(linger.LingerTime, Is.EqualTo(1));
        await s.WaitForAsync(m => m is DisconnectNotice { Disposition: "disconnect" }, TimeSpan.FromSeconds(5));
        await s.WaitClosedAsync();
    }

    [Test]
    public async Task SendMsgExecuteCarriesApplicationUuidAndRunsLockedAppsInOrder()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        var r1 = await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "sleep"), ("execute-app-arg", "200"), ("event-lock", "true"), ("Event-UUID", "app-1"));
        var r2 = await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "set"), ("execute-app-arg", "greeting=hi there"), ("event-lock", "true"), ("Event-UUID", "app-2"));
        Assert.That((r1.ReplyText, r2.ReplyText), Is.EqualTo(("+OK", "+OK")));
        await s.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE_COMPLETE" } e && e["Application-UUID"] == "app-2");
        var apps = s.Events.Where(e => e.EventName is "CHANNEL_EXECUTE" or "CHANNEL_EXECUTE_COMPLETE" && e["Application"] != "socket")
            .Select(e => $"{e.EventName}:{e["Application-UUID"]}").ToList();
        Assert.That(apps, Is.EqualTo(new[] { "CHANNEL_EXECUTE:app-1", "CHANNEL_EXECUTE_COMPLETE:app-1", "CHANNEL_EXECUTE:app-2", "CHANNEL_EXECUTE_COMPLETE:app-2" }));
        Assert.That((await s.CommandAsync("getvar greeting")).ReplyText, Is.EqualTo("hi there"));
        Assert.That(await _inbound.ApiAsync($"uuid_getvar {a} greeting"), Is.EqualTo("hi there"));
    }

    [Test]
    public async Task StaticSocketRunsSendMsgInlineReplyAfterTheApp()
    {
        var (_, s) = await CallIntoSocket("full");
        await using var __ = s;
        var c = await s.CommandAsync("connect");
        Assert.That(c.SocketMode, Is.EqualTo("static"));
        await s.CommandAsync("event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE");
        var t0 = DateTime.UtcNow;
        var r = await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "sleep"), ("execute-app-arg", "300"));
        Assert.That(r.ReplyText, Is.EqualTo("+OK"));
        Assert.That(DateTime.UtcNow - t0, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)));
        await s.WaitForEventAsync("CHANNEL_EXECUTE_COMPLETE");
        var all = s.All.ToList();
        var replyIndex = all.IndexOf(r);
        Assert.That(all.Skip(replyIndex + 1).OfType<EslEvent>().Select(e => e.EventName).Take(2),
            Is.EqualTo(new[] { "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE" }), "events of an inline app come after its reply");
    }

    [Test]
    public async Task BridgeAnswerRemoteHangupLeavesALegParkedUnlessHangupAfterBridge()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        var b = NewUuid();
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "bridge"), ("execute-app-arg", $"{{origination_uuid={b}}}sofia/gateway/gw/15550000480"));
        await s.WaitForEventAsync("CHANNEL_BRIDGE", a);
        await s.WaitForEventAsync("CHANNEL_UNBRIDGE", a, TimeSpan.FromSeconds(5));
        await Task.Delay(200);
        Assert.That(await _inbound.ApiAsync($"uuid_exists {a}"), Is.EqualTo("true"), "A stays parked in the socket");
        Assert.That(await _inbound.ApiAsync($"uuid_exists {b}"), Is.EqualTo("false"));

        // second bridge, with hangup_after_bridge: A goes down when B does
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "set"), ("execute-app-arg", "hangup_after_bridge=true"));
        var b2 = NewUuid();
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "bridge"), ("execute-app-arg", $"{{origination_uuid={b2}}}sofia/gateway/gw/15550000480"));
        var h = (EslEvent)await s.WaitForEventAsync("CHANNEL_HANGUP", a, TimeSpan.FromSeconds(5));
        Assert.That(h["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
    }

    [Test]
    public async Task FailedBridgeTakesTheALegDownWithTheBLegCause()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        await s.CommandAsync("linger");
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "bridge"), ("execute-app-arg", "sofia/gateway/gw/15550000486"));
        var h = (EslEvent)await s.WaitForEventAsync("CHANNEL_HANGUP", a);
        Assert.That(h["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
        var hc = (EslEvent)await s.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
        Assert.That(hc["variable_originate_failed_cause"], Is.EqualTo("USER_BUSY"));
    }

    [Test]
    public async Task ClosingTheSocketMidBridgeLeavesTheCallUp()
    {
        var (a, s) = await CallIntoSocket();
        await s.CommandAsync("connect");
        await s.CommandAsync("myevents");
        var b = NewUuid();
        await s.CommandAsync("sendmsg", ("call-command", "execute"), ("execute-app-name", "bridge"), ("execute-app-arg", $"{{origination_uuid={b}}}sofia/gateway/gw/15550000100"));
        await s.WaitForEventAsync("CHANNEL_BRIDGE", a);
        await s.DisposeAsync();
        await Task.Delay(500);
        Assert.That(await _inbound.ApiAsync($"uuid_exists {a}"), Is.EqualTo("true"));
        Assert.That(await _inbound.ApiAsync($"uuid_exists {b}"), Is.EqualTo("true"));
        // when B hangs up, the bridge ends and A (no controller left) hangs up
        Assert.That(await _inbound.ApiAsync($"uuid_kill {b}"), Is.EqualTo("+OK\n"));
        await _inbound.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
    }

    [Test]
    public async Task ExitWhileParkedHangsTheLegUp()
    {
        var (a, s) = await CallIntoSocket();
        await using var __ = s;
        await s.CommandAsync("connect");
        Assert.That((await s.CommandAsync("exit")).ReplyText, Is.EqualTo("+OK bye"));
        var bye = (DisconnectNotice)await s.WaitForAsync(m => m is DisconnectNotice);
        Assert.That(bye.ControlledSessionUuid, Is.EqualTo(a));
        var hc = (EslEvent)await _inbound.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
        Assert.That(hc["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
    }

    [Test]
    public async Task UnreachableSocketHostsAreTriedInTurn()
    {
        int dead;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { l.Start(); dead = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; }
        var a = NewUuid();
        await _inbound.CommandAsync($"bgapi originate {{origination_uuid={a}}}user/15550000100 &socket('127.0.0.1:{dead}|127.0.0.1:{_server.Port} async full')");
        await using var s = await _server.AcceptAsync();
        var c = await s.CommandAsync("connect");
        Assert.That(c.ChannelData["Unique-ID"], Is.EqualTo(a));
    }
}
