using System.Text.RegularExpressions;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>
/// The paths where FreeSWITCH and Redswitch lose sight of each other in the middle of a call: a reply lost with
/// the control link, an outbound socket that drops, a command FreeSWITCH refuses. Faults are injected by the
/// simulator (<see cref="SimulatorHost.CommandFaults"/>) on the real connections.
/// </summary>
[Category("e2e")]
[NonParallelizable]
public class LinkLossTests : RedisAndSimulatorTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Fault rules a test switches on and off; read on the simulator's core thread.</summary>
    private sealed class Faults
    {
        private int _originateFaults;
        public volatile bool RefuseAuth;
        public volatile CommandFault? OnOriginate;
        public volatile string? OriginateMarker;
        public volatile Func<string, CommandFault?>? Other;

        public CommandFault? For(string line)
        {
            // an "auth" that breaks the connection keeps the control link down for as long as the test wants
            if (RefuseAuth && line.StartsWith("auth ", StringComparison.Ordinal)) return CommandFault.DropBeforeRunning;
            if (OnOriginate is { } f && OriginateMarker is { } m && line.StartsWith("bgapi originate ", StringComparison.Ordinal) &&
                line.Contains(m, StringComparison.Ordinal) && Interlocked.Exchange(ref _originateFaults, 1) == 0)
                return f;
            return Other?.Invoke(line);
        }
    }

    private Faults InjectFaults()
    {
        var f = new Faults();
        _sim!.CommandFaults = f.For;
        return f;
    }

    private static string Key(string dialId) => $"redswitch.{dialId}.{Org}.{User}";

    private async Task<string> StateAsync(string dialId, string field)
    {
        string? v = null;
        for (var i = 0; i < 100 && v is null; i++)
        {
            v = await _redis.Db.HashGetAsync($"redswitch.call.{{{dialId}}}", field);
            if (v is null) await Task.Delay(20);
        }
        Assert.That(v, Is.Not.Null, $"{field} in the call's state");
        return v!;
    }

    private async Task WaitModeAsync(string uuid, string expected)
    {
        string? mode = null;
        for (var i = 0; i < 100 && mode != expected; i++)
        {
            mode = await _sim!.GetEavesdropModeAsync(uuid);
            if (mode != expected) await Task.Delay(20);
        }
        Assert.That(mode, Is.EqualTo(expected), "the barger's eavesdrop mode in the simulator");
    }

    private async Task<ChannelWatcher> AnsweredCallAsync(string dialId, string callee = "14157697098")
    {
        var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: callee));
        await watch.CollectAsync(m => m == Answer(1), 1);
        return watch;
    }

    private async Task<string> BargeAsync(ChannelWatcher watch, string dialId)
    {
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777-777-7777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        var barger = await StateAsync(dialId, "uuid_2");
        await WaitModeAsync(barger, "listen");
        return barger;
    }

    private async Task HangupAsync(ChannelWatcher watch, params int[] sides)
    {
        await watch.SendAsync("""{"type": "hangup"}""");
        var tail = await watch.CollectAsync(m => IsHangup(m) || IsAck(m), sides.Length + 1);
        Assert.That(tail, Is.EquivalentTo(sides.Select(s => Hangup(s, "NORMAL_CLEARING")).Prepend(Ack("hangup"))));
        await watch.ExpectQuietAsync(0.5);
    }

    /// <summary>Once a call is over, nothing of it stays behind: no live call, no followed leg, no pending bgapi.</summary>
    private static async Task AssertNothingLeftAsync(ServerHarness server)
    {
        var link = server.Service.Links!.Links[0];
        await WaitAsync(() => server.Service.Registry.Live == 0 && link.FollowedCount == 0 && link.PendingJobs == 0, 5,
            $"the call forgotten (live {server.Service.Registry.Live}, followed {link.FollowedCount}, pending jobs {link.PendingJobs})");
    }

    // ------------------------------------------------------------------ the control link follows dropped legs

    [Test]
    public async Task CalleeWhoAnswersAfterTheSocketDroppedIsReportedWithItsActiveEntry()
    {
        var server = await StartServerAsync();
        _sim!.SetBehaviour("15550000901", PhoneBehaviour.AnswerAfterDelay(TimeSpan.FromSeconds(2)));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: "15550000901"));
        await watch.CollectAsync(m => m == Answer(0), 1);
        var callee = await StateAsync(dialId, "uuid_1");
        for (var i = 0; i < 100 && !await _sim.ChannelExistsAsync(callee); i++) await Task.Delay(20);
        Assert.That(await _sim.ChannelExistsAsync(callee), Is.True, "the callee rings");

        Assert.That(await _sim!.BreakOutboundSocketAsync(server.Service.Registry.ByDialId(dialId)!.CallerUuid), Is.EqualTo(1), "the caller's socket broken");
        Assert.That(await watch.NextAsync(5), Is.EqualTo(Answer(1)));
        var metrics = await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        Assert.That(metrics, Does.Contain($"redswitch_esl_followed_legs{{node=\"127.0.0.1:{_simPort}\"}} 2"), "caller and callee followed");
        var active = (await _redis.Db.ListRangeAsync(Key(dialId))).Select(v => (string)v!);
        Assert.That(active, Is.EquivalentTo(new[] { "ACTIVE.0", "ACTIVE.1" }));
        await HangupAsync(watch, 0, 1);
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task BargerKeypadAfterTheSocketDroppedStillDecidesWhatUnthreewayRestores()
    {
        var server = await StartServerAsync();
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        var barger = await BargeAsync(watch, dialId);
        Assert.That(await _sim!.BreakOutboundSocketAsync(server.Service.Registry.ByDialId(dialId)!.CallerUuid), Is.EqualTo(1), "the caller's socket broken");
        await watch.ExpectQuietAsync(0.3);

        // The barger presses 2 (whisper) on the phone: only the control link can tell Redswitch now.
        Assert.That(await _sim!.PressKeysAsync(barger, "2"), Is.True);
        await WaitModeAsync(barger, "target");
        await watch.SendAsync("""{"type": "threeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("threeway")));
        await WaitModeAsync(barger, "both");
        await watch.SendAsync("""{"type": "unthreeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("unthreeway")));
        await WaitModeAsync(barger, "target");
        await HangupAsync(watch, 0, 1, 2);
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task AfterALinkBlipTheDroppedLegsAreStillFollowed()
    {
        var server = await StartServerAsync();
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        var callee = await StateAsync(dialId, "uuid_1");
        Assert.That(await _sim!.BreakOutboundSocketAsync(server.Service.Registry.ByDialId(dialId)!.CallerUuid), Is.EqualTo(1), "the caller's socket broken");
        await watch.ExpectQuietAsync(0.3);
        var link = server.Service.Links!.Links[0];
        var generation = link.Generation;
        Assert.That(await _sim!.BreakInboundConnectionsAsync(), Is.GreaterThanOrEqualTo(1), "the control link broken");
        await WaitAsync(() => link.IsUp && link.Generation > generation, 10, "the control link back");
        await watch.ExpectQuietAsync(0.3);

        Assert.That(await _sim!.HangupAsync(callee), Is.True);
        var tail = await watch.CollectAsync(IsHangup, 2);
        Assert.That(tail, Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(_sim.LiveChannels, Is.Zero);
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task TheControlLinkCarriesNoChannelEventsOfCallsWhoseSocketIsUp()
    {
        var server = await StartServerAsync();
        var before = await InboundFramesAsync(server);
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        await HangupAsync(watch, 0, 1);
        var after = await InboundFramesAsync(server);
        // The originate's reply and its BACKGROUND_JOB; unfiltered, each leg's CHANNEL_ANSWER and
        // CHANNEL_HANGUP_COMPLETE would come too (4 more).
        // (A caller's socket later than 1 s would add the replies of following and checking it: 3 more.)
        Assert.That(after - before, Is.InRange(2, 5));
        await AssertNothingLeftAsync(server);
    }

    private static async Task<double> InboundFramesAsync(ServerHarness server)
    {
        var text = await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        var m = Regex.Match(text, "^redswitch_esl_frames_total\\{link=\"inbound\"\\} (\\S+)$", RegexOptions.Multiline);
        Assert.That(m.Success, Is.True, "the inbound frame counter");
        return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    // ------------------------------------------------------------------ replies lost with the link

    /// <summary>
    /// Pushes a call whose <c>bgapi originate</c> meets <paramref name="fault"/>; with <paramref name="holdLinkDown"/>
    /// the control link cannot authenticate again until the test lets it (and the lost reply has been noticed).
    /// </summary>
    private async Task<(ChannelWatcher Watch, Faults Faults, string DialId)> PushWithLostOriginateAsync(
        ServerHarness server, CommandFault fault, bool holdLinkDown, string caller = "15105625882")
    {
        var faults = InjectFaults();
        var dialId = NewDialId();
        faults.OriginateMarker = $"dial_id={dialId}";
        faults.OnOriginate = fault;
        faults.RefuseAuth = holdLinkDown;
        var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, caller: caller));
        if (holdLinkDown)
            await WaitAsync(() => server.Log.Lines.Any(l => l.Contains("control link lost before FreeSWITCH answered the originate")), 5, "the lost reply noticed");
        return (watch, faults, dialId);
    }

    [Test]
    public async Task OriginateWhoseReplyWasLostGoesOnWhenFreeSwitchHadIt()
    {
        var server = await StartServerAsync();
        var (watch, _, dialId) = await PushWithLostOriginateAsync(server, CommandFault.DropInsteadOfReply, holdLinkDown: false);
        await using var _ = watch;

        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(1)));
        await WaitAsync(() => _redis.Db.ListLength($"{{{JobList}}}.processing.{server.Service.InstanceId}") == 0, 5, "the job leaves the processing list");
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead"), Is.Zero);
        await HangupAsync(watch, 0, 1);
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task OriginateLostWithTheLinkFailsIsDeadLetteredAndAnswersAHangupSentMeanwhile()
    {
        // (a short grace: the watch for a late leg outlasts it by a ring timeout plus connect time after the link is back)
        var server = await StartServerAsync(tune: o => ServerHarness.With(o, endedLinger: TimeSpan.FromSeconds(1)));
        var (watch, faults, dialId) = await PushWithLostOriginateAsync(server, CommandFault.DropBeforeRunning, holdLinkDown: true);
        await using var _ = watch;

        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.ExpectQuietAsync(0.5); // nothing is acked before FreeSWITCH took anything
        faults.RefuseAuth = false;
        // not there after the link's return is not never (a node that stalled still runs what it received): the
        // originate stays unknown until its deadline, RING_TIMEOUT (5 s) + the socket's connect time (3 s) after the loss
        Assert.That(await watch.NextAsync(15), Is.EqualTo(Failure("freeswitch link lost")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("hangup", "call ended")));
        await watch.ExpectQuietAsync(0.5);
        await WaitAsync(() => _redis.Db.ListLength($"{{{JobList}}}.dead") == 1, 5, "the job dead-lettered");
        var dead = (string)(await _redis.Db.ListGetByIndexAsync($"{{{JobList}}}.dead", 0))!;
        Assert.That(dead, Does.Contain(dialId).And.Contain("\"cause\": \"freeswitch link lost\""));
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.processing.{server.Service.InstanceId}"), Is.Zero);
        Assert.That(_sim!.SessionsSinceStartup, Is.Zero, "nothing was dialled");
        var link = server.Service.Links!.Links[0];
        await WaitAsync(() => server.Service.Registry.Count == 0 && link.FollowedCount == 0 && link.PendingJobs == 0, 15,
            $"the call forgotten once the watch for a late leg ended (calls {server.Service.Registry.Count}, followed {link.FollowedCount})");
    }

    [Test]
    public async Task HangupWhileTheOriginateReplyIsLostIsAckedOnceFreeSwitchHasTheCall()
    {
        var server = await StartServerAsync(new() { ["RING_TIMEOUT"] = "30" });
        _sim!.SetBehaviour("15550000333", PhoneBehaviour.NoAnswer(null));
        var (watch, faults, dialId) = await PushWithLostOriginateAsync(server, CommandFault.DropInsteadOfReply, holdLinkDown: true, caller: "15550000333");
        await using var _ = watch;

        await watch.SendAsync("""{"type": "hangup", "id": 5}""");
        await watch.ExpectQuietAsync(0.5);
        Assert.That(_sim.LiveChannels, Is.EqualTo(1), "the caller's phone rings meanwhile");
        faults.RefuseAuth = false;

        Assert.That(await watch.NextAsync(10), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup", "5")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Hangup(0, "ORIGINATOR_CANCEL")));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(_sim.LiveChannels, Is.Zero);
        await WaitAsync(() => _redis.Db.ListLength($"{{{JobList}}}.processing.{server.Service.InstanceId}") == 0, 5, "the job leaves the processing list");
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead"), Is.Zero);
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task HangupWhileTheOriginateReplyIsLostIsCarriedOutByTheSocketThatProvesTheCall()
    {
        // The link stays down: only the caller's socket, once the phone answers, shows FreeSWITCH had the call.
        var server = await StartServerAsync(new() { ["RING_TIMEOUT"] = "30" });
        _sim!.SetBehaviour("15550000334", PhoneBehaviour.AnswerAfterDelay(TimeSpan.FromSeconds(3)));
        var (watch, faults, dialId) = await PushWithLostOriginateAsync(server, CommandFault.DropInsteadOfReply, holdLinkDown: true, caller: "15550000334");
        await using var _ = watch;
        await watch.SendAsync("""{"type": "hangup"}""");

        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Hangup(0, "NORMAL_CLEARING")));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(_sim.LiveChannels, Is.Zero, "the callee was never dialled");
        faults.RefuseAuth = false;
        await AssertNothingLeftAsync(server);
    }

    [Test]
    public async Task BargeWhoseReplyWasLostIsAckedWhenItsLegShowsUpAndBlocksASecondBarge()
    {
        await StartServerAsync();
        var faults = InjectFaults();
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        faults.OriginateMarker = "call-side=2";
        faults.OnOriginate = CommandFault.DropInsteadOfReply;

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "id": "b1"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge", "\"b1\"")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000778"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("barge", "barge already active")));
        await HangupAsync(watch, 0, 1, 2);
    }

    [Test]
    public async Task BargeLostWithTheLinkBlocksTheNextUntilTheLinkSaysItNeverRang()
    {
        var server = await StartServerAsync();
        var faults = InjectFaults();
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        faults.OriginateMarker = "call-side=2";
        faults.OnOriginate = CommandFault.DropBeforeRunning;
        faults.RefuseAuth = true;

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "id": "b1"}""");
        await WaitAsync(() => server.Log.Lines.Any(l => l.Contains("control link lost before FreeSWITCH answered the barge originate")), 5, "the lost reply noticed");
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000778", "id": "b2"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("barge", "barge already active").Replace("}", ", \"id\": \"b2\"}")));
        await watch.ExpectQuietAsync(0.5); // b1: nothing known yet
        faults.RefuseAuth = false;
        // not there when the link is back is not never: b1 is answered at its deadline, RING_TIMEOUT (5 s) + connect time (3 s)
        Assert.That(await watch.NextAsync(15), Is.EqualTo(ControlFailure("barge", "freeswitch unavailable").Replace("}", ", \"id\": \"b1\"}")));

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        await HangupAsync(watch, 0, 1, 2);
        await AssertNothingLeftAsync(server);
    }

    // ------------------------------------------------------------------ refused commands change nothing

    /// <summary>A call with an answered barger, where FreeSWITCH refuses <c>uuid_recv_dtmf … digit</c>.</summary>
    private async Task<(ChannelWatcher Watch, string Barger)> BargedCallRefusingDigitAsync(char digit)
    {
        await StartServerAsync();
        var faults = InjectFaults();
        var dialId = NewDialId();
        var watch = await AnsweredCallAsync(dialId);
        var barger = await BargeAsync(watch, dialId);
        faults.Other = line => line.StartsWith("api uuid_recv_dtmf ", StringComparison.Ordinal) && line.EndsWith($" {digit}", StringComparison.Ordinal)
            ? CommandFault.Reply("-ERR Operation failed\n")
            : null;
        return (watch, barger);
    }

    [Test]
    public async Task AModeChangeFreeSwitchRefusesChangesNothing()
    {
        var (watch, barger) = await BargedCallRefusingDigitAsync('3');
        await using var _ = watch;

        await watch.SendAsync("""{"type": "threeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("threeway", "-ERR Operation failed")));
        await watch.SendAsync("""{"type": "unthreeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("unthreeway", "not in threeway")));
        Assert.That(await _sim!.GetEavesdropModeAsync(barger), Is.EqualTo("listen"));
        await watch.SendAsync("""{"type": "whisper"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("whisper")));
        await WaitModeAsync(barger, "target");
        await HangupAsync(watch, 0, 1, 2);
    }

    [Test]
    public async Task ARefusedModeChangeAheadOfOthersLeavesNoTrace()
    {
        // whisper (refused), threeway and unthreeway wait for the barger to answer and then go out together, so
        // unthreeway carries whisper's digit as planned (and meets the same refusal). The next unthreeway must
        // return to listening, the mode FreeSWITCH had before three-way, not to the whisper it never took.
        await StartServerAsync();
        var faults = InjectFaults();
        _sim!.SetBehaviour("15550000779", PhoneBehaviour.AnswerAfterDelay(TimeSpan.FromSeconds(1)));
        var dialId = NewDialId();
        await using var watch = await AnsweredCallAsync(dialId);
        faults.Other = line => line.StartsWith("api uuid_recv_dtmf ", StringComparison.Ordinal) && line.EndsWith(" 2", StringComparison.Ordinal)
            ? CommandFault.Reply("-ERR Operation failed\n")
            : null;
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000779"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        await watch.SendAsync("""{"type": "whisper"}""");
        await watch.SendAsync("""{"type": "threeway"}""");
        await watch.SendAsync("""{"type": "unthreeway"}""");
        var replies = await watch.CollectAsync(m => !m.Contains("answer-event"), 3);
        Assert.That(replies, Is.EqualTo(new[]
        {
            Answer(2), ControlFailure("whisper", "-ERR Operation failed"), Ack("threeway"), ControlFailure("unthreeway", "-ERR Operation failed"),
        }));
        var barger = await StateAsync(dialId, "uuid_2");
        await WaitModeAsync(barger, "both");
        await watch.SendAsync("""{"type": "unthreeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("unthreeway")));
        await WaitModeAsync(barger, "listen");
        await HangupAsync(watch, 0, 1, 2);
    }
}
