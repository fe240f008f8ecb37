using Redswitch.Protocol.Messages;
using Redswitch.Simulator;
using Redswitch.Simulator.Esl;

namespace Redswitch.Tests.Simulator;

[TestFixture]
public class FilterSetUnitTests
{
    private static Func<string, string?> Ev(params (string, string)[] h) =>
        n => h.FirstOrDefault(x => string.Equals(x.Item1, n, StringComparison.OrdinalIgnoreCase)).Item2;

    [Test]
    public void NoFilterPassesEverything() => Assert.That(new FilterSet().Passes(Ev(("A", "1"))), Is.True);

    [Test]
    public void PositiveFiltersAreOredWithinAHeaderAndEventsWithoutTheHeaderAreDropped()
    {
        var f = new FilterSet();
        f.Add("Unique-ID", "u1");
        f.Add("Unique-ID", "u2");
        Assert.That(f.Passes(Ev(("Unique-ID", "U2"))), Is.True, "case-insensitive");
        Assert.That(f.Passes(Ev(("Unique-ID", "u3"))), Is.False);
        Assert.That(f.Passes(Ev(("Event-Name", "BACKGROUND_JOB"))), Is.False);
    }

    [Test]
    public void NegativeOnlyFiltersBlockEverything()
    {
        var f = new FilterSet();
        f.Add("Event-Subclass", "-test::other");
        Assert.That(f.Passes(Ev(("Event-Subclass", "test::one"))), Is.False);
        Assert.That(f.Passes(Ev(("Event-Subclass", "test::other"))), Is.False);
    }

    [Test]
    public void RegexAndALaterNegativeMatchWins()
    {
        var f = new FilterSet();
        f.Add("Event-Subclass", "/^test::/");
        Assert.That(f.Passes(Ev(("Event-Subclass", "test::one"), ("X-A", "2"))), Is.True);
        f.Add("X-A", "-2");
        Assert.That(f.Passes(Ev(("Event-Subclass", "test::one"), ("X-A", "2"))), Is.False);
        Assert.That(f.Passes(Ev(("Event-Subclass", "test::one"), ("X-A", "3"))), Is.True);
    }

    [Test]
    public void NegativeRegexIsComparedLiterally()
    {
        var f = new FilterSet();
        f.Add("H", "+x");
        f.Add("H", "-/x/");
        Assert.That(f.Passes(Ev(("H", "x"))), Is.True);
        Assert.That(f.Passes(Ev(("H", "/x/"))), Is.False);
    }

    [Test]
    public void DeleteByHeaderAndValue()
    {
        var f = new FilterSet();
        f.Add("A", "1");
        f.Add("A", "2");
        f.Delete("a", "1");
        Assert.That(f.Items, Is.EqualTo(new[] { ("A", "2") }));
        f.Delete("A", null);
        Assert.That(f.Count, Is.Zero);
    }
}

[TestFixture, CancelAfter(30000)]
public class InboundCommandTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task WrongPasswordGetsErrInvalidThenGoodbyeAndClose()
    {
        await using var c = await EslTestClient.ConnectAsync(Sim.Port);
        await c.WaitForAsync(m => m is AuthRequest);
        Assert.That((await c.CommandAsync("auth nope")).ReplyText, Is.EqualTo("-ERR invalid"));
        var bye = (DisconnectNotice)await c.WaitForAsync(m => m is DisconnectNotice);
        Assert.That((bye.Disposition, bye.BodyText), Is.EqualTo(((string?)null, DisconnectNotice.GoodbyeText)));
        await c.WaitClosedAsync();
    }

    [Test]
    public async Task CommandsBeforeAuthAreRefusedAndUnknownOnesAnswerLikeFreeSwitch()
    {
        await using var c = await EslTestClient.ConnectAsync(Sim.Port);
        await c.WaitForAsync(m => m is AuthRequest);
        Assert.That((await c.CommandAsync("api status")).ReplyText, Is.EqualTo("-ERR command not found"));
        Assert.That((await c.CommandAsync("auth ClueCon")).ReplyText, Is.EqualTo("+OK accepted"));
        Assert.That(await c.ApiAsync("no_such_command"), Is.EqualTo("-ERR no_such_command Command not found!\n"));
        Assert.That(await c.ApiAsync(" status"), Is.EqualTo("-ERR  Command not found!\n"));
        Assert.That(await c.ApiAsync("uuid_exists 00000000-0000-0000-0000-000000000000"), Is.EqualTo("false"));
        Assert.That(await c.ApiAsync("uuid_kill 00000000-0000-0000-0000-000000000000"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.ApiAsync("uuid_kill"), Is.EqualTo("-USAGE: <uuid> [cause]\n"));
        Assert.That(await c.ApiAsync("uuid_getvar 00000000-0000-0000-0000-000000000000 x"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.ApiAsync("uuid_setvar x"), Is.EqualTo("-USAGE: <uuid> <var> [value]\n"));
        Assert.That(await c.ApiAsync("uuid_recv_dtmf 00000000-0000-0000-0000-000000000000 1"), Is.EqualTo("-ERR Cannot locate session!\n"));
        Assert.That(await c.ApiAsync("uuid_recv_dtmf x"), Is.EqualTo("-USAGE: <uuid> <dtmf_data>\n"));
        Assert.That(await c.ApiAsync("uuid_bridge a b"), Is.EqualTo("-ERR Invalid uuid\n"));
        Assert.That((await c.CommandAsync("connect")).ReplyText, Is.EqualTo("-ERR command not found"));
        Assert.That((await c.CommandAsync("linger")).ReplyText, Is.EqualTo("-ERR not controlling a session"));
        Assert.That((await c.CommandAsync("noevents")).ReplyText, Is.EqualTo("-ERR not listening for events"));
        Assert.That((await c.CommandAsync("event plain NOT_AN_EVENT")).ReplyText, Is.EqualTo("-ERR no keywords supplied"));
        Assert.That((await c.CommandAsync("filter Unique-ID")).ReplyText, Is.EqualTo("-ERR invalid syntax"));
        Assert.That((await c.CommandAsync("filter add X y z")).ReplyText, Is.EqualTo("+OK filter added. [X]=[y z]"));
        Assert.That((await c.CommandAsync("filter delete")).ReplyText, Is.EqualTo("-ERR invalid syntax"));
        Assert.That((await c.CommandAsync("sendmsg")).ReplyText, Is.EqualTo("-ERR invalid session id []"));
        Assert.That((await c.CommandAsync("sendmsg abc")).ReplyText, Is.EqualTo("-ERR invalid session id [abc]"));
        Assert.That((await c.CommandAsync("log")).ReplyText, Is.EqualTo("+OK log level  [7]"));
        Assert.That((await c.CommandAsync("nolog")).ReplyText, Is.EqualTo("-ERR not loging"));
        Assert.That((await c.CommandAsync("whatever")).ReplyText, Is.EqualTo("-ERR command not found"));
        Assert.That((await c.CommandAsync("exitfoo")).ReplyText, Is.EqualTo("+OK bye"));
        await c.WaitClosedAsync();
    }

    [Test]
    public async Task BgApiHonoursClientJobUuidAndReachesEverySubscriber()
    {
        await using var c1 = await ConnectAsync();
        await using var c2 = await ConnectAsync();
        await using var c3 = await ConnectAsync();
        await c1.CommandAsync("event plain BACKGROUND_JOB");
        await c2.CommandAsync("event json ALL");
        const string job = "my-own-job-id-0123456789-0123456789-0123";
        var r = await c1.CommandAsync("bgapi uuid_exists nope", ("Job-UUID", job));
        Assert.That((r.ReplyText, r.JobUuid), Is.EqualTo(("+OK Job-UUID: " + job, job)));
        var all = c1.All.ToList();
        var e1 = (EslEvent)await c1.WaitForAsync(m => m is EslEvent e && e.JobUuid == job);
        Assert.That(c1.All.ToList().IndexOf(r), Is.LessThan(c1.All.ToList().IndexOf(e1)), "reply before event");
        Assert.That((e1.EventBodyText, e1["Job-Command"], e1["Job-Command-Arg"], e1["Job-Owner-UUID"]), Is.EqualTo(("false", "uuid_exists", "nope", (string?)null)));
        var e2 = (EslEvent)await c2.WaitForAsync(m => m is EslEvent e && e.JobUuid == job);
        Assert.That(e2.Format, Is.EqualTo(Redswitch.Protocol.EslEventFormat.Json));
        Assert.That(e2.EventBodyText, Is.EqualTo("false"));
        await Task.Delay(100);
        Assert.That(c3.Events, Is.Empty, "not subscribed");
    }

    [Test]
    public async Task StatusCountsSessionsSinceStartup()
    {
        await using var c = await ConnectAsync();
        var s0 = await c.ApiAsync("status");
        Assert.That(s0, Does.StartWith("UP 0 years, ").And.Contain("FreeSWITCH (Version ").And.Contain("\n0 session(s) since startup\n"));
        await c.ApiAsync("originate user/15550000100 &park()");
        Assert.That(await c.ApiAsync("status"), Does.Contain("\n1 session(s) since startup\n"));
        Assert.That(Sim.SessionsSinceStartup, Is.EqualTo(1));
    }

    [Test]
    public async Task InboundMyEventsBindsToOneChannelAndClosesOnItsHangup()
    {
        await using var c = await ConnectAsync();
        await using var watcher = await ConnectAsync();
        var a = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        Assert.That((await watcher.CommandAsync($"myevents {a}")).ReplyText, Is.EqualTo("+OK Events Enabled"));
        await c.ApiAsync("originate user/15550000101 &park()");
        await c.ApiAsync($"uuid_recv_dtmf {a} 5");
        var dtmf = (EslEvent)await watcher.WaitForEventAsync("DTMF", a);
        Assert.That((dtmf["DTMF-Digit"], dtmf["DTMF-Source"], dtmf["DTMF-Duration"]), Is.EqualTo(("5", "APP", "2000")));
        await c.ApiAsync($"uuid_kill {a}");
        await watcher.WaitForAsync(m => m is DisconnectNotice { Disposition: "disconnect" });
        await watcher.WaitClosedAsync();
        Assert.That(watcher.Events.All(e => e.UniqueId == a), Is.True);
        Assert.That(watcher.Events.Any(e => e.EventName == "CHANNEL_DESTROY"), Is.False);
    }

    [Test]
    public async Task UuidBridgeJoinsTwoChannels()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP");
        var a = NewUuid(); var b = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        await c.ApiAsync($"originate {{origination_uuid={b}}}user/15550000101 &park()");
        Assert.That(await c.ApiAsync($"uuid_bridge {a} {b}"), Is.EqualTo($"+OK {a}\n"));
        var br = (EslEvent)await c.WaitForEventAsync("CHANNEL_BRIDGE", a);
        Assert.That(br["Bridge-B-Unique-ID"], Is.EqualTo(b));
        await c.ApiAsync($"uuid_kill {b}");
        await c.WaitForEventAsync("CHANNEL_UNBRIDGE", a);
    }

    [Test]
    public async Task JsonAndPlainFramesDecode()
    {
        await using var p = await ConnectAsync();
        await using var j = await ConnectAsync();
        await p.CommandAsync("event plain ALL");
        Assert.That((await j.CommandAsync("event json ALL")).ReplyText, Is.EqualTo("+OK event listener enabled json"));
        var a = NewUuid();
        await p.ApiAsync($"originate {{origination_uuid={a},origination_caller_id_name='Jos\u00e9 100%41 a+b'}}user/15550000100 &park()");
        await p.ApiAsync($"uuid_kill {a}");
        var pe = (EslEvent)await p.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
        var je = (EslEvent)await j.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", a);
        Assert.That(je.Format, Is.EqualTo(Redswitch.Protocol.EslEventFormat.Json));
        Assert.That(pe.EventHeaders.Select(h => h.Name), Is.EqualTo(je.EventHeaders.Select(h => h.Name)));
        Assert.That(pe.EventHeaders.GetAll("Hangup-Cause").Count(), Is.EqualTo(2));
        Assert.That(je["variable_origination_caller_id_name"], Is.EqualTo("Jos\u00e9 100%41 a+b"));
    }
}

[TestFixture, CancelAfter(30000)]
public class EavesdropTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task DigitsSelectWhoHearsTheEavesdropperAndStarEndsIt()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain DTMF CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP");
        var a = NewUuid(); var g = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        Assert.That(await c.ApiAsync($"originate {{origination_uuid={g}}}user/15550000777 &eavesdrop({a})"), Is.EqualTo($"+OK {g}\n"));
        await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE" } e && e.UniqueId == g && e["Application"] == "eavesdrop");
        Assert.That(await c.ApiAsync($"uuid_getvar {g} eavesdrop_mode"), Is.EqualTo("listen"));
        // esl-protocol.md §7.2: 1 = MUX_READ (the other party), 2 = MUX_WRITE (the target's party), 3 = both, 0 = listen only
        foreach (var (digit, mode) in new[] { ("2", "target"), ("3", "both"), ("1", "other"), ("0", "listen") })
        {
            Assert.That(await c.ApiAsync($"uuid_recv_dtmf {g} {digit}"), Is.EqualTo($"+OK {g} received DTMF {digit}.\n"));
            var d = (EslEvent)await c.WaitForEventAsync("DTMF", g);
            Assert.That(d["DTMF-Digit"], Is.EqualTo(digit));
            Assert.That(await c.ApiAsync($"uuid_getvar {g} eavesdrop_mode"), Is.EqualTo(mode), "digit " + digit);
            Assert.That(await Sim.GetEavesdropModeAsync(g), Is.EqualTo(mode));
        }
        await c.ApiAsync($"uuid_recv_dtmf {g} *");
        var ec = (EslEvent)await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE_COMPLETE" } e && e.UniqueId == g);
        Assert.That(ec["Application"], Is.EqualTo("eavesdrop"));
        Assert.That(await Sim.GetEavesdropModeAsync(g), Is.Null);
        Assert.That(await c.ApiAsync($"uuid_exists {a}"), Is.EqualTo("true"), "the target is not affected");
    }

    [Test]
    public async Task TargetHangupEndsTheEavesdropAndWhisperVariablesSetTheStartMode()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_EXECUTE CHANNEL_HANGUP_COMPLETE");
        var a = NewUuid(); var g = NewUuid();
        await c.ApiAsync($"originate {{origination_uuid={a}}}user/15550000100 &park()");
        await c.ApiAsync($"originate {{origination_uuid={g},eavesdrop_whisper_bleg=true}}user/15550000777 &eavesdrop({a})");
        await c.WaitForAsync(m => m is EslEvent { EventName: "CHANNEL_EXECUTE" } e && e.UniqueId == g);
        Assert.That(await Sim.GetEavesdropModeAsync(g), Is.EqualTo("target"));
        await c.ApiAsync($"uuid_kill {a}");
        await c.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", g);
    }
}

/// <summary>The filter cases of esl-protocol.md §2.4 over a real connection, with sendevent CUSTOM as in the observed experiment.</summary>
[TestFixture, CancelAfter(30000)]
public class FilterSocketTests : SimTestBase
{
    private static async Task<bool> Delivered(EslTestClient watcher, EslTestClient sender, string subclass, string xa)
    {
        var marker = Guid.NewGuid().ToString();
        var r = await sender.CommandAsync("sendevent CUSTOM", ("Event-Subclass", subclass), ("X-A", xa), ("X-Marker", marker));
        Assert.That(r.ReplyText, Does.StartWith("+OK "));
        // the event was queued to the watcher before it handles its next command, so it precedes that reply
        await watcher.ApiAsync("uuid_exists x");
        return watcher.Events.Any(e => e["X-Marker"] == marker);
    }

    [Test]
    public async Task NegativeOnlyBlocksRegexAdmitsLaterNegativeWins()
    {
        await using var w = await ConnectAsync();
        await using var s = await ConnectAsync();
        await w.CommandAsync("event plain CUSTOM test::one test::other");
        Assert.That(await Delivered(w, s, "test::one", "1"), Is.True, "no filter");
        Assert.That((await w.CommandAsync("filter Event-Subclass -test::other")).ReplyText, Is.EqualTo("+OK filter added. [Event-Subclass]=[-test::other]"));
        Assert.That(await Delivered(w, s, "test::one", "1"), Is.False, "only a negative filter: nothing passes");
        await w.CommandAsync("filter Event-Subclass /^test::/");
        Assert.That(await Delivered(w, s, "test::one", "1"), Is.True, "regex admits");
        Assert.That(await Delivered(w, s, "test::other", "1"), Is.False, "the negative match wins");
        await w.CommandAsync("filter X-A -2");
        Assert.That(await Delivered(w, s, "test::one", "2"), Is.False, "a later negative match wins over the regex");
        Assert.That((await w.CommandAsync("filter delete X-A")).ReplyText, Is.EqualTo("+OK filter deleted. [X-A][]"));
        Assert.That(await Delivered(w, s, "test::one", "2"), Is.True);
        await w.CommandAsync("filter delete all");
        await w.CommandAsync("filter Unique-ID nobody");
        Assert.That(await Delivered(w, s, "test::one", "1"), Is.False, "events without the filtered header are dropped");
    }
}
