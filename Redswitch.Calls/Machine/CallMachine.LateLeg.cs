using Redswitch.Calls.FreeSwitch;

namespace Redswitch.Calls;

/// <summary>
/// A caller's leg that shows up after its job was given up (SPEC §4): its originate went to a node that stalled or
/// dropped, its fate stayed unknown until the deadline, the job failed with "freeswitch link lost" and was
/// dead-lettered — and then the node, waking, ran the originate it had received. Nothing a person's phone does goes
/// unreported: the leg is hung up at once (ORIGINATOR_CANCEL) and side 0 gets exactly one hangup-event, after the
/// failure. The call watches for it until the node has been back for a ring timeout plus the socket's connect time.
/// </summary>
public sealed partial class CallMachine
{
    private const string LateLegCause = "ORIGINATOR_CANCEL";

    private bool WatchingForLateLeg => _a.Origin == LegOrigin.GivenUp;

    /// <summary>The failed call keeps the caller's uuid claimed and followed, past its usual grace if need be.</summary>
    private void WatchForLateLeg()
    {
        _a.Origin = LegOrigin.GivenUp;
        _a.HangupSent = false;
        _fx.Claim(_a.Uuid);
        // (Follow() follows nothing once the call has ended)
        _a.Followed = true;
        _fx.Follow(_a.Uuid);
        _fx.SetTimer(new CallTimer(TimerKind.Release), WatchTime);
    }

    private TimeSpan WatchTime => Deadline > _settings.EndedLinger ? Deadline : _settings.EndedLinger;

    private void StopWatchingForLateLeg()
    {
        if (!WatchingForLateLeg) return;
        _a.Origin = LegOrigin.NotPlaced;
        _fx.Unclaim(_a.Uuid);
        Unfollow(_a);
    }

    /// <summary>
    /// The node answers again: if it only stalled, what it had received runs now, and the leg may ring for up to a ring
    /// timeout before its socket comes; a node that restarted has lost it.
    /// </summary>
    private void OnLinkRestoredWhileWatching(bool freeswitchRestarted)
    {
        if (!WatchingForLateLeg) return;
        if (freeswitchRestarted)
        {
            StopWatchingForLateLeg();
            return;
        }
        _fx.SetTimer(new CallTimer(TimerKind.Release), WatchTime);
        // Ringing already? Then it is hung up now rather than when it answers.
        Api(new UuidExists(_a.Uuid), new Pending.CheckExists(_a));
    }

    /// <summary>The watch is over: a last question, unless the node cannot be asked now (then the watch waits for it). True: release now.</summary>
    private bool EndWatch()
    {
        if (Api(new UuidExists(_a.Uuid), new Pending.WatchEnd())) return false;
        if (_deferrals++ >= MaxDeferrals) return true;
        _fx.SetTimer(new CallTimer(TimerKind.Release), WatchTime);
        return false;
    }

    /// <summary>uuid_exists of the watched leg: there, it is hung up; gone after we hung it up, its end is reported (its event was lost).</summary>
    private void OnLateLegChecked(FsReply reply, bool end)
    {
        if (!WatchingForLateLeg) return;
        switch (reply.Outcome)
        {
            case FsOutcome.Accepted:
                KillLateLeg();
                if (end) _fx.SetTimer(new CallTimer(TimerKind.Release), WatchTime); // until its end is seen
                return;
            case FsOutcome.NoSuchChannel:
                if (_a.HangupSent) OnLateLeg(new LegEvent(_a.Uuid, LegEventKind.HangupComplete, FromSocket: false) { Cause = LateLegCause });
                if (end) ReleaseCall();
                return;
            default:
                if (end && EndWatch()) ReleaseCall();
                return;
        }
    }

    /// <summary>An event of the given-up caller's leg, or its socket: hang it up; its end is its side's one hangup-event.</summary>
    private void OnLateLeg(LegEvent? e)
    {
        if (e is { Kind: LegEventKind.Hangup or LegEventKind.HangupComplete })
        {
            _fx.Log(CallLogLevel.Warning, "leg {Uuid}, placed after its job was given up, ended ({Cause})", _a.Uuid, e.Cause ?? "NORMAL_UNSPECIFIED");
            // After the call's failure, the one event its side gets (the end guard of Publish does not apply).
            _fx.Publish(new SideHungUp(0, e.Cause ?? "NORMAL_UNSPECIFIED", WasAnswered: false));
            StopWatchingForLateLeg();
            _a.Channel = LegChannel.Destroyed;
            if (SocketAlive) SendExit();
            return;
        }
        KillLateLeg();
    }

    private void KillLateLeg()
    {
        if (_a.HangupSent) return;
        _a.HangupSent = true;
        _fx.Log(CallLogLevel.Warning, "leg {Uuid} showed up after its job was given up (failure published, job dead-lettered); hanging it up", _a.Uuid);
        if (SocketAlive && _fx.SendOnSocket(new HangupCaller(LateLegCause))) return;
        if (!Api(new UuidKill(_a.Uuid, LateLegCause), null)) _a.HangupSent = false; // the link's return tries again
    }
}
