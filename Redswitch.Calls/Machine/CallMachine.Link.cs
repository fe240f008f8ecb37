using Redswitch.Calls.FreeSwitch;

namespace Redswitch.Calls;

/// <summary>Losing sight of FreeSWITCH: originates whose reply was lost, the link's return, and the end of a drain.</summary>
public sealed partial class CallMachine
{
    /// <summary>
    /// Bounds the wait for a leg whose originate reply was lost: past ringing and the socket's connect time, a leg
    /// FreeSWITCH had would have shown itself. Checks at once when the link already came back.
    /// </summary>
    private void AwaitConfirmation(Leg leg, bool linkAlreadyBack)
    {
        if (linkAlreadyBack) OnLinkRestored(false);
        _fx.SetTimer(leg.Timer(TimerKind.GiveUpLeg), Deadline);
    }

    private TimeSpan Deadline => _settings.RingTimeout + _settings.SocketConnectTimeout;

    /// <summary>
    /// How many times a deadline is put off because the node cannot be asked (its link is down or stalled): a node that
    /// only stalled still runs what it received when it wakes. Past that, the leg is given up without an answer.
    /// </summary>
    private const int MaxDeferrals = 10;
    private int _deferrals;

    /// <summary>The deadline: one last question (is the leg there?) decides, if the node can be asked now.</summary>
    private void GiveUp(Leg leg)
    {
        if (!leg.Unconfirmed) return;
        if (Api(new UuidExists(leg.Uuid), new Pending.LastCheck(leg))) return;
        DeferOrGiveUp(leg);
    }

    private void DeferOrGiveUp(Leg leg)
    {
        if (!leg.Unconfirmed) return;
        if (_deferrals++ < MaxDeferrals)
        {
            _fx.Log(CallLogLevel.Information, "FreeSWITCH cannot be asked about leg {Uuid} now; its deadline waits for the node", leg.Uuid);
            _fx.SetTimer(leg.Timer(TimerKind.GiveUpLeg), Deadline);
            return;
        }
        GiveUpNow(leg);
    }

    private void GiveUpNow(Leg leg)
    {
        _fx.Log(CallLogLevel.Warning, "leg {Uuid} never showed up after its originate reply was lost; giving it up", leg.Uuid);
        // In case FreeSWITCH has it after all and the link can still say so: do not leave it ringing.
        Api(new UuidKill(leg.Uuid, "ORIGINATOR_CANCEL"), null);
        Unconfirmable(leg);
    }

    /// <summary>The deadline's last question answered: there (a call after all), gone (given up), or not answered.</summary>
    private void OnLastCheck(Leg leg, FsReply reply)
    {
        if (!leg.Unconfirmed) return;
        switch (reply.Outcome)
        {
            case FsOutcome.Accepted: Confirm(leg); break;
            case FsOutcome.NoSuchChannel: GiveUpNow(leg); break;
            default: DeferOrGiveUp(leg); break;
        }
    }

    /// <summary>FreeSWITCH took this leg's originate after all (an event of it, its BACKGROUND_JOB, uuid_exists).</summary>
    private void Confirm(Leg leg)
    {
        if (!leg.Unconfirmed) return;
        if (leg == _a)
        {
            ConfirmStart(byReply: false);
            return;
        }
        _fx.CancelTimer(leg.Timer(TimerKind.GiveUpLeg));
        if (leg.Request is { } request) Ack(request);
        leg.Request = null;
        _fx.Log(CallLogLevel.Information, "FreeSWITCH had the barge leg {Uuid} after all", leg.Uuid);
        MakeReady(leg);
    }

    /// <summary>The originate was lost with the link and the leg is not there: as if it had been refused.</summary>
    private void Unconfirmable(Leg leg, bool nodeRestarted = false)
    {
        if (!leg.Unconfirmed) return;
        _fx.CancelTimer(leg.Timer(TimerKind.GiveUpLeg));
        Unfollow(leg);
        if (leg == _a)
        {
            FailUnconfirmedStart(mayStillShowUp: !nodeRestarted);
            return;
        }
        DropBarge(leg, "freeswitch unavailable");
    }

    /// <summary>The control link came back: legs we could not follow meanwhile are checked (SPEC §4).</summary>
    private void OnLinkRestored(bool freeswitchRestarted)
    {
        if (_phase == CallPhase.Ended)
        {
            OnLinkRestoredWhileWatching(freeswitchRestarted);
            return;
        }
        // A caller whose socket never came, and whose hang-up could not go out while the link was down.
        if (!freeswitchRestarted && _socket == SocketState.GaveUp && _a.Alive && !_a.HangupSent && !_a.Unconfirmed)
            HangupCaller("NORMAL_CLEARING");
        // Originates whose reply was lost with the link: a restarted FreeSWITCH has none of them; otherwise the
        // leg's existence says whether it took the command.
        foreach (var leg in new[] { _a, _g })
        {
            if (leg is not { Unconfirmed: true }) continue;
            if (freeswitchRestarted)
            {
                Unconfirmable(leg, nodeRestarted: true);
                continue;
            }
            if (!SocketAlive || leg == _a) Follow(leg);
            Api(new UuidExists(leg.Uuid), new Pending.ConfirmExists(leg));
            // The deadline counts from the node's return: asleep, it could not run the command yet.
            _fx.SetTimer(leg.Timer(TimerKind.GiveUpLeg), Deadline);
        }
        foreach (var leg in new[] { _a, _b, _g })
        {
            if (leg is not { Alive: true, Unconfirmed: false } || SocketAlive) continue;
            if (freeswitchRestarted)
            {
                HangupLeg(leg, "SYSTEM_SHUTDOWN");
                continue;
            }
            // The link put its filters back before this runs; legs not followed yet are now.
            FollowAndCheck(leg);
        }
    }

    /// <summary>Hangs up whatever is left (graceful stop after DRAIN_TIMEOUT), with MANAGER_REQUEST (SPEC §8).</summary>
    private void OnDrain(bool linkUp)
    {
        if (_phase == CallPhase.Ended) return;
        _hangupCause = "MANAGER_REQUEST";
        if (_phase != CallPhase.Started)
        {
            // Not taken yet: killed once it is; one whose reply was lost is checked now if the link is up.
            _hangup = HangupRequest.AwaitingStart;
            if (_a.Unconfirmed && linkUp) OnLinkRestored(false);
            return;
        }
        _hangup = HangupRequest.Requested;
        // What is left at the end of a drain is hung up with MANAGER_REQUEST, ringing or not.
        KillLegs("MANAGER_REQUEST", [], ringingCause: "MANAGER_REQUEST");
    }

    /// <summary>Last resort when FreeSWITCH cannot be reached at exit: every side still ends in Redis.</summary>
    private void OnForceEnd(string cause)
    {
        if (_phase == CallPhase.Ended) return;
        if (_phase != CallPhase.Started)
        {
            // FreeSWITCH never confirmed the originate (reply lost or still outstanding): the call fails and the
            // job is kept in the dead-letter list.
            FailUnconfirmedStart(mayStillShowUp: false);
            return;
        }
        // A barge whose originate FreeSWITCH never confirmed (reply lost or still outstanding).
        if (_g is { Ready: false, HangupPublished: false } g) DropBarge(g, "freeswitch unavailable");
        foreach (var leg in new[] { _g, _b, _a })
            if (leg is { Alive: true }) HangupLeg(leg, cause);
        EndCall("completed");
    }
}
