using System.Text.RegularExpressions;
using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Tests.Calls;

/// <summary>
/// One <see cref="CallMachine"/> with a fixed job, fixed settings and uuids "uuid-0", "uuid-1", … (caller, callee,
/// next barger), its <see cref="RecordingEffects"/>, and helpers that feed it what FreeSWITCH and Redis would.
/// </summary>
public sealed partial class CallDriver
{
    public const string Caller = "uuid-0";
    public const string Callee = "uuid-1";
    /// <summary>The first barge leg (chosen when the call is built, dialled by the first barge).</summary>
    public const string Barger = "uuid-2";
    public const string SecondBarger = "uuid-3";

    public static readonly CallJob Job = new("d1", "o1", "u1", "p1", "15105625882", "15105625883", "15105550100", "15105550101", null);

    public static readonly CallSettings Settings = new(
        RingTimeout: TimeSpan.FromSeconds(45),
        SocketConnectTimeout: TimeSpan.FromSeconds(15),
        SocketLinger: TimeSpan.FromSeconds(1),
        EndedLinger: TimeSpan.FromSeconds(60),
        Advertise: "127.0.0.1:8084",
        LogPhoneNumbers: false);

    public static readonly DialStrings Dial = new(new DialSettings("sofia/gateway/{provider}/{number}", "sofia/external/{number}", 45));

    private int _uuids;
    private long _received;

    public CallDriver()
    {
        Fx = new RecordingEffects();
        Machine = new CallMachine(Job, Settings, Dial, Fx, () => $"uuid-{_uuids++}");
    }

    /// <summary>A call taken over from its state hash (uuids uuid-0, uuid-1 and uuid-2 as saved; new ones from uuid-3).</summary>
    public CallDriver(CallSnapshot snapshot)
    {
        Fx = new RecordingEffects();
        _uuids = 3;
        Machine = CallMachine.Resumed(Job, Settings, Dial, Fx, () => $"uuid-{_uuids++}", snapshot);
    }

    public CallMachine Machine { get; }
    public RecordingEffects Fx { get; }

    /// <summary>Every input handed to the machine, in order (failure messages of the permutation tests print it).</summary>
    public List<CallInput> Inputs { get; } = [];

    public int Mark => Fx.All.Count;

    public CallDriver Handle(CallInput input)
    {
        Inputs.Add(input);
        Machine.Handle(input);
        return this;
    }

    // ------------------------------------------------------------------ FreeSWITCH's answers

    public CallDriver Start() => Handle(new StartCall());

    /// <summary>The reply to the originate of <paramref name="uuid"/> (the caller's by default).</summary>
    public CallDriver ReplyOriginate(FsReply reply, string uuid = Caller) =>
        Handle(new CommandReplied(Fx.TakeReply(o => o.Command is Originate orig && UuidOf(orig) == uuid, $"originate of {uuid}").Correlation, reply));

    /// <summary>The BACKGROUND_JOB of the originate of <paramref name="uuid"/>.</summary>
    public CallDriver JobDone(FsJobResult result, string uuid = Caller) =>
        Handle(new BackgroundJobDone(Fx.TakeJob(o => UuidOf((Originate)o.Command) == uuid, uuid).Correlation, result));

    public static FsJobResult Answered => new(FsJobOutcome.Answered, "+OK");
    public static FsJobResult HungUp(string cause) => new(FsJobOutcome.HungUp, cause);

    /// <summary>The reply to the oldest outstanding <typeparamref name="T"/> on <paramref name="uuid"/> (any uuid when null).</summary>
    public CallDriver ReplyTo<T>(string? uuid, FsReply reply) where T : FsCommand =>
        Handle(new CommandReplied(Fx.TakeReply(o => o.Command is T c && (uuid is null || UuidOf(c) == uuid), $"{typeof(T).Name} {uuid}").Correlation, reply));

    /// <summary>The reply to the oldest outstanding socket command <typeparamref name="T"/>.</summary>
    public CallDriver ReplyToSocket<T>(FsReply reply) where T : SocketCommand =>
        Handle(new CommandReplied(Fx.TakeReply(o => o.Command is T, typeof(T).Name).Correlation, reply));

    public CallDriver Connect()
    {
        Fx.SocketOpen = true;
        return Handle(new SocketConnected());
    }

    /// <summary>The socket closes; what was outstanding on it is answered <see cref="FsReply.Lost"/> after the close.</summary>
    public CallDriver CloseSocket()
    {
        Fx.SocketOpen = false;
        Handle(new SocketClosed());
        while (Fx.AwaitingReply.FirstOrDefault(o => o.ViaSocket) is { } o)
            Handle(new CommandReplied(Fx.TakeReply(x => x == o, "socket command").Correlation, FsReply.Lost));
        return this;
    }

    /// <summary>The control link drops: its outstanding replies come back lost (socket commands are not affected).</summary>
    public CallDriver LoseLink()
    {
        Fx.LinkUp = false;
        Fx.ForgetJobs(); // BACKGROUND_JOBs come on the connection that is gone
        while (Fx.AwaitingReply.FirstOrDefault(o => !o.ViaSocket) is { } o)
            Handle(new CommandReplied(Fx.TakeReply(x => x == o, "link command").Correlation, FsReply.Lost));
        return this;
    }

    public CallDriver RestoreLink(bool restarted = false)
    {
        Fx.LinkUp = true;
        return Handle(new LinkRestored(restarted));
    }

    public CallDriver Event(string uuid, LegEventKind kind, bool fromSocket = true, string? cause = null, bool hadAnswered = false)
    {
        if (kind is LegEventKind.Hangup or LegEventKind.HangupComplete) Gone.Add(uuid);
        return Handle(new LegEvent(uuid, kind, fromSocket) { Cause = cause, HadAnswered = hadAnswered });
    }

    /// <summary>Legs whose hangup the test (or the simulated world of <see cref="Quiesce"/>) has delivered.</summary>
    public HashSet<string> Gone { get; } = new(StringComparer.Ordinal);

    public CallDriver Answer(string uuid, bool fromSocket = true) => Event(uuid, LegEventKind.Answer, fromSocket);

    public CallDriver Hangup(string uuid, string cause = "NORMAL_CLEARING", bool fromSocket = true) => Event(uuid, LegEventKind.Hangup, fromSocket, cause);

    public CallDriver HangupComplete(string uuid, string cause = "NORMAL_CLEARING", bool fromSocket = true, bool hadAnswered = true) =>
        Event(uuid, LegEventKind.HangupComplete, fromSocket, cause, hadAnswered);

    public CallDriver Dtmf(string uuid, int digit, bool fromApp = false, bool fromSocket = true) =>
        Handle(new LegEvent(uuid, LegEventKind.Dtmf, fromSocket) { Digit = digit, DigitFromApp = fromApp });

    /// <summary>The caller's bridge returned (the callee hung up or never answered).</summary>
    public CallDriver BridgeEnded(string? cause = null, string? originateFailedCause = null) =>
        Handle(new LegEvent(Caller, LegEventKind.ExecuteComplete, true) { BridgeEnded = true, Cause = cause, OriginateFailedCause = originateFailedCause });

    // ------------------------------------------------------------------ Redis

    public CallDriver Control(string json) => Handle(new ControlReceived(ControlMessage.Parse(json), ++_received));

    public CallDriver Control(ControlMessage message) => Handle(new ControlReceived(message, ++_received));

    public static ControlMessage Msg(string type, string? id = null) => new(type, id);

    public static ControlMessage BargeMsg(string? id = null, string phone = "15105625884") => new("barge", id) { PhoneNumber = phone };

    // ------------------------------------------------------------------ timers

    /// <summary>Fires an armed timer (fails when the machine has not armed it).</summary>
    public CallDriver Fire(TimerKind kind, int leg = -1)
    {
        var timer = new CallTimer(kind, leg);
        Fx.Disarm(timer);
        return Handle(new TimerFired(timer));
    }

    // ------------------------------------------------------------------ composed steps

    /// <summary>Start, +OK, BACKGROUND_JOB +OK, the socket (subscribe and bridge), and the callee's answer.</summary>
    public CallDriver AnsweredCall()
    {
        Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Connect().ReplyToSocket<BridgeCallee>(FsReply.Ok);
        Event(Callee, LegEventKind.Exists);
        return Answer(Callee);
    }

    /// <summary>An answered call with an answered barger on uuid-2.</summary>
    public CallDriver BargedCall(string? id = null)
    {
        AnsweredCall().Control(BargeMsg(id)).ReplyOriginate(FsReply.Ok, Barger).Answer(Barger);
        return this;
    }

    /// <summary>Answers every outstanding command with <paramref name="reply"/> (and what those answers send in turn).</summary>
    public CallDriver ReplyAll(FsReply reply)
    {
        while (Fx.AwaitingReply.Count > 0) Handle(new CommandReplied(Fx.TakeReply(_ => true, "any").Correlation, reply));
        return this;
    }

    /// <summary>
    /// Drives the call to rest: every outstanding command is answered with <paramref name="reply"/>, every
    /// outstanding BACKGROUND_JOB with <paramref name="job"/> (when given), then armed timers fire one at a time
    /// (Release only once nothing else is left); at most <paramref name="rounds"/> rounds. With
    /// <paramref name="world"/>, FreeSWITCH acts on what it accepted: a killed or hung-up leg sends its hangup events
    /// (on the socket while it is open, else on the control link), uuid_kill and uuid_exists of a leg that is gone
    /// answer "no such channel", and an exit closes the socket. Returns the rounds taken.
    /// </summary>
    public int Quiesce(FsReply reply, FsJobResult? job = null, bool world = false, int rounds = 50)
    {
        for (var round = 0; round < rounds; round++)
        {
            var acted = false;
            while (Fx.AwaitingReply.Count > 0)
            {
                var o = Fx.TakeReply(_ => true, "any");
                var r = reply;
                if (world && o.Command is UuidKill or UuidExists && Gone.Contains(UuidOf(o.Command)) && reply.Arrived) r = FsReply.Gone;
                Handle(new CommandReplied(o.Correlation, r));
                if (world && r.Outcome == FsOutcome.Accepted) React(o.Command);
                acted = true;
            }
            if (job is { } j)
                while (Fx.AwaitingJob.Count > 0)
                {
                    Handle(new BackgroundJobDone(Fx.TakeJob(_ => true, "any").Correlation, j));
                    acted = true;
                }
            if (world) acted |= ReactToUncorrelated();
            if (acted) continue;
            // the call's own timers first; Release (the channel let go) only once nothing else is left
            var timer = Fx.ArmedTimers.Where(t => t.Kind != TimerKind.Release).Cast<CallTimer?>().FirstOrDefault()
                ?? Fx.ArmedTimers.Cast<CallTimer?>().FirstOrDefault();
            if (timer is not { } t) return round;
            Fx.Disarm(t);
            Handle(new TimerFired(t));
        }
        throw new AssertionException($"not quiet after {rounds} rounds; outstanding [{string.Join(", ", Fx.AwaitingReply)}], timers [{string.Join(", ", Fx.ArmedTimers)}]");
    }

    /// <summary>What FreeSWITCH does after accepting a command, for <see cref="Quiesce"/>'s world.</summary>
    private void React(object command)
    {
        switch (command)
        {
            case UuidKill k when !Gone.Contains(k.Uuid):
                HangupBoth(k.Uuid, k.HangupCause);
                break;
            case HangupCaller h when !Gone.Contains(Caller):
                HangupBoth(Caller, h.Cause);
                break;
        }
    }

    private int _worldCursor;

    /// <summary>Commands whose reply nobody awaits (the socket's hangup of the caller, a give-up uuid_kill, exit) still act.</summary>
    private bool ReactToUncorrelated()
    {
        var acted = false;
        while (_worldCursor < Fx.All.Count)
        {
            var e = Fx.All[_worldCursor++];
            switch (e)
            {
                case SocketSent { WentOut: true, Correlation: 0, Command: ExitSocket } when Fx.SocketOpen:
                    CloseSocket();
                    acted = true;
                    break;
                case SocketSent { WentOut: true, Correlation: 0, Command: HangupCaller h } when !Gone.Contains(Caller):
                    HangupBoth(Caller, h.Cause);
                    acted = true;
                    break;
                case ApiSent { WentOut: true, Correlation: 0, Command: UuidKill k } when !Gone.Contains(k.Uuid):
                    HangupBoth(k.Uuid, k.HangupCause);
                    acted = true;
                    break;
            }
        }
        return acted;
    }

    private void HangupBoth(string uuid, string cause)
    {
        Event(uuid, LegEventKind.Hangup, Fx.SocketOpen, cause);
        Event(uuid, LegEventKind.HangupComplete, Fx.SocketOpen, cause, hadAnswered: false);
    }

    // ------------------------------------------------------------------ reading commands

    public static string UuidOf(object command) => command switch
    {
        UuidKill k => k.Uuid,
        UuidExists e => e.Uuid,
        UuidRecvDtmf d => d.Uuid,
        UuidDump d => d.Uuid,
        Originate o => OriginationUuid().Match(o.Line) is { Success: true } m ? m.Groups[1].Value : "",
        _ => "",
    };

    [GeneratedRegex(@"origination_uuid=([^,}]+)")]
    private static partial Regex OriginationUuid();

    /// <summary>What the inputs were, for assertion messages.</summary>
    public string Trace => string.Join(" → ", Inputs.Select(Describe));

    public static string Describe(CallInput input) => input switch
    {
        CommandReplied r => $"reply#{r.Correlation}:{r.Reply.Outcome}",
        BackgroundJobDone j => $"job#{j.Correlation}:{j.Result.Outcome}",
        LegEvent e => $"{e.Kind}({e.Uuid}{(e.FromSocket ? ",socket" : ",link")}{(e.Cause is null ? "" : "," + e.Cause)})",
        ControlReceived c => $"control({c.Message.Type}{(c.Message.Id is null ? "" : "," + c.Message.Id)})",
        TimerFired t => $"timer({t.Timer})",
        _ => input.GetType().Name,
    };
}
