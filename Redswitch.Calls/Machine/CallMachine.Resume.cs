using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Calls;

/// <summary>
/// A call taken over from its state hash (SPEC §8.1 "Resume"): the legs are rebuilt from what was published, each
/// live one is followed on the control link and asked for with uuid_dump, and what happened while nobody owned the
/// call is published once. From then on the call is an ordinary one whose socket is gone.
/// </summary>
public sealed partial class CallMachine
{
    private CallSnapshot? _snapshot;

    /// <summary>A machine for a call another owner placed; <see cref="ResumeCall"/> starts it.</summary>
    public static CallMachine Resumed(CallJob job, CallSettings settings, DialStrings dial, ICallEffects effects, Func<string> newUuid, CallSnapshot snapshot)
    {
        // The constructor takes the caller's, the callee's and the next barger's uuid in this order.
        var saved = new Queue<string>([snapshot.CallerUuid, snapshot.CalleeUuid, snapshot.NextBargeUuid]);
        var machine = new CallMachine(job, settings, dial, effects, () => saved.Count > 0 ? saved.Dequeue() : newUuid());
        machine._snapshot = snapshot;
        return machine;
    }

    private void OnResume(ResumeCall resume)
    {
        if (_phase != CallPhase.New || _snapshot is not { } s) return;
        _snapshot = null;
        _jobSettled = true; // the claim settles the job (SPEC §8.1 "Jobs")
        _socket = SocketState.Closed; // the first owner's socket died with it; the control link carries everything now
        if (s.EndedAt is not null)
        {
            // In its grace: late control messages get their failure until it is over.
            _phase = CallPhase.Ended;
            _fx.Ended(new CallSummary("", "", Silent: true));
            _fx.SetTimer(new CallTimer(TimerKind.Release), resume.GraceLeft);
            return;
        }
        _fx.Claim(_a.Uuid);
        _fx.Claim(_b.Uuid);
        _fx.Claim(_nextBargeUuid);
        if (!s.Started)
        {
            // The first owner died between the originate and its reply: the caller's leg decides, as after a lost reply.
            _phase = CallPhase.Originating;
            _a.Phase = LegPhase.Ringing;
            _a.Origin = LegOrigin.ReplyLost;
            if (resume.NodeRestarted) Unconfirmable(_a, nodeRestarted: true);
            else AwaitConfirmation(_a, linkAlreadyBack: true);
            return;
        }

        _phase = CallPhase.Started;
        Restore(_a, s.Answered[0], s.HungUp[0], dialled: true);
        Restore(_b, s.Answered[1], s.HungUp[1], dialled: s.Answered[0] || s.Answered[1] || s.HungUp[1]);
        if (s.BargeUuid is { } g && !s.HungUp[2] && !string.Equals(g, _nextBargeUuid, StringComparison.OrdinalIgnoreCase))
        {
            _g = NewLeg(2, LegOrigin.Accepted, g);
            Restore(_g, s.Answered[2], hungUp: false, dialled: true);
            _fx.Claim(g);
            Mode.Restore(s.Mode, s.ModeBefore);
        }

        var live = new[] { _a, _b, _g }.Where(l => l is { Alive: true }).Select(l => l!).ToList();
        if (resume.NodeRestarted)
        {
            // The node's channels died with it: every side still up ends (SPEC §8.1 "Claim").
            foreach (var leg in live)
            {
                leg.HangupSent = true;
                leg.Channel = LegChannel.Destroyed;
            }
            foreach (var leg in live) HangupLeg(leg, "SYSTEM_SHUTDOWN");
            CheckDone();
            return;
        }
        foreach (var leg in live)
        {
            Follow(leg);
            Api(new UuidDump(leg.Uuid), new Pending.Dump(leg));
        }
        // Everything was published but the end (the owner died between the last hangup-event and its end).
        if (live.Count == 0) CheckDone();
    }

    private static void Restore(Leg leg, bool answered, bool hungUp, bool dialled)
    {
        leg.Origin = LegOrigin.Accepted;
        if (!dialled && !answered && !hungUp) return;
        leg.Phase = hungUp ? answered ? LegPhase.HungUp : LegPhase.Missed : answered ? LegPhase.Answered : LegPhase.Ringing;
        if (hungUp) leg.Channel = LegChannel.Destroyed;
    }

    /// <summary>uuid_dump's answer: gone legs end (their cause is lost: NORMAL_UNSPECIFIED), answered ones are announced.</summary>
    private void OnDumpReply(Leg leg, FsReply reply)
    {
        if (_phase == CallPhase.Ended || leg.HangupPublished) return;
        switch (reply.Outcome)
        {
            case FsOutcome.NoSuchChannel:
                // Its CHANNEL_HANGUP_COMPLETE, if it is still on its way, would bring the real cause.
                ReportGone(leg);
                break;
            case FsOutcome.Accepted:
                MarkSeen(leg);
                if (string.Equals(reply.Text, "answered", StringComparison.OrdinalIgnoreCase)) AnswerLeg(leg);
                break;
            default:
                // The link dropped (its return checks the followed legs) or FreeSWITCH refused: the leg's events still come.
                _fx.Log(CallLogLevel.Warning, "uuid_dump of leg {Uuid} failed: {Reply}", leg.Uuid, reply.Text);
                break;
        }
    }
}
