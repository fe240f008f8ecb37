namespace Redswitch.Calls;

/// <summary>Channel events, answers and hangups: what FreeSWITCH reports of the legs becomes the side events.</summary>
public sealed partial class CallMachine
{
    private Leg? LegOf(string uuid)
    {
        if (string.Equals(uuid, _a.Uuid, StringComparison.OrdinalIgnoreCase)) return _a;
        if (string.Equals(uuid, _b.Uuid, StringComparison.OrdinalIgnoreCase)) return _b;
        if (_g is not null && string.Equals(uuid, _g.Uuid, StringComparison.OrdinalIgnoreCase)) return _g;
        foreach (var p in PastBarges)
            if (string.Equals(uuid, p.Uuid, StringComparison.OrdinalIgnoreCase)) return p;
        return null;
    }

    private void OnLegEvent(LegEvent e)
    {
        // While the socket is up it reports every leg (one filter per uuid), in order with the replies to our
        // commands; the control link's copy is only needed once the socket is gone.
        var leg = LegOf(e.Uuid);
        if (leg is null) return;
        // (before the socket's filter: the late leg's socket is never subscribed, its events come on the control link)
        if (leg == _a && WatchingForLateLeg)
        {
            OnLateLeg(e);
            return;
        }
        if (!e.FromSocket && SocketAlive) return;
        if (leg.Unconfirmed) Confirm(leg);
        switch (e.Kind)
        {
            case LegEventKind.Exists:
                MarkSeen(leg);
                break;
            case LegEventKind.Answer:
                MarkSeen(leg);
                AnswerLeg(leg);
                // Seen on the control link only when the originate's +OK was lost: the socket must still come.
                if (leg == _a && !SocketPresent && _phase != CallPhase.Ended) ExpectSocket();
                break;
            case LegEventKind.Hangup:
                MarkSeen(leg);
                HangupLeg(leg, e.Cause ?? "NORMAL_UNSPECIFIED");
                break;
            case LegEventKind.HangupComplete:
                if (leg == _a) _aFailedCause ??= e.OriginateFailedCause;
                leg.Channel = LegChannel.Destroyed;
                Unfollow(leg);
                if (!leg.HangupPublished)
                {
                    // Followed through the control link, which has no CHANNEL_ANSWER from before it followed: an
                    // answered leg still gets its answer-event first.
                    if (!e.FromSocket && e.HadAnswered) AnswerLeg(leg);
                    HangupLeg(leg, e.Cause ?? "NORMAL_UNSPECIFIED");
                }
                else CheckDone();
                break;
            case LegEventKind.ExecuteComplete:
                MarkSeen(leg);
                if (leg == _a && e.BridgeEnded) OnBridgeEnded(e);
                break;
            case LegEventKind.Dtmf:
                // Our own uuid_recv_dtmf comes back as DTMF-Source APP (its ack counted it); the rest is the keypad.
                if (leg == _g && !e.DigitFromApp && e.Digit is { } digit && Mode.Pressed(digit)) SaveMode();
                break;
        }
    }

    private static void MarkSeen(Leg leg)
    {
        if (leg.Channel == LegChannel.NotSeen) leg.Channel = LegChannel.Seen;
    }

    /// <summary>The caller's bridge returned: the callee is gone (or never came); end the caller's leg too.</summary>
    private void OnBridgeEnded(LegEvent e)
    {
        _aFailedCause ??= e.OriginateFailedCause;
        // The callee's channel never appeared: report the cause the bridge failed with.
        if (_b.Dialled && !_b.Seen && !_b.HangupPublished) HangupLeg(_b, _aFailedCause ?? e.Cause ?? "NORMAL_UNSPECIFIED");
        if (!_a.HangupPublished && !_a.HangupSent) HangupCaller(_b.Cause ?? _aFailedCause ?? "NORMAL_CLEARING");
    }

    private void AnswerLeg(Leg leg)
    {
        if (!leg.Dialled || leg.AnswerPublished || leg.HangupPublished) return;
        if (!leg.Ready)
        {
            leg.DeferredAnswer = true;
            return;
        }
        leg.Phase = LegPhase.Answered;
        Publish(new SideAnswered(leg.Side));
        if (leg == _g) ApplyPendingModes();
    }

    private void HangupLeg(Leg leg, string cause)
    {
        if (!leg.Dialled || leg.HangupPublished) return;
        if (!leg.Ready)
        {
            // The leg's events overtook the reply to its originate (they travel on another connection):
            // call-start or the barge ack is published first.
            leg.DeferredHangup ??= cause;
            return;
        }
        var answered = leg.AnswerPublished;
        leg.Phase = answered ? LegPhase.HungUp : LegPhase.Missed;
        leg.Cause = cause;
        Publish(new SideHungUp(leg.Side, cause, answered));
        _fx.Unclaim(leg.Uuid);

        if (leg == _g)
        {
            FailPendingModes("barge leg ended");
            _g = null;
        }
        // The callee is gone: FreeSWITCH leaves the caller parked in the socket (SPEC §7).
        if (leg == _b && !_a.HangupPublished && _a.AnswerPublished && !_a.HangupSent) HangupCaller(cause);
        if (leg == _a)
        {
            if (_g is { Alive: true, HangupSent: false }) Kill(_g, "NORMAL_CLEARING", null);
            if (!_b.Seen && _b.Dialled && !_b.HangupPublished && _a.Complete) HangupLeg(_b, _aFailedCause ?? cause);
        }
        CheckDone();
    }

    /// <summary>The leg's originate was accepted: publish what waited for it.</summary>
    private void MakeReady(Leg leg)
    {
        leg.Origin = LegOrigin.Accepted;
        if (leg.DeferredAnswer)
        {
            leg.DeferredAnswer = false;
            AnswerLeg(leg);
        }
        if (leg.DeferredHangup is { } cause)
        {
            leg.DeferredHangup = null;
            HangupLeg(leg, cause);
        }
    }

    private bool AllHungUp()
    {
        if (_a.Dialled && !_a.HangupPublished) return false;
        if (_b.Dialled && !_b.HangupPublished) return false;
        return _g is not { Alive: true };
    }

    /// <summary>Legs dialled but never reported (their channel never appeared) end with the best cause we have.</summary>
    private void SynthesizeMissing(string fallback)
    {
        foreach (var leg in new[] { _a, _b, _g })
            if (leg is { Alive: true }) HangupLeg(leg, leg == _b ? _aFailedCause ?? _a.Cause ?? fallback : fallback);
    }

    private void CheckDone()
    {
        if (!AllHungUp())
        {
            // The caller's channel is completely gone: a callee that never appeared never will.
            if (_a.Complete && _b.Dialled && !_b.Seen && !_b.HangupPublished) HangupLeg(_b, _aFailedCause ?? _a.Cause ?? "NORMAL_UNSPECIFIED");
            return;
        }
        if (SocketAlive)
        {
            var allComplete = _a.Complete && (!_b.Seen || _b.Complete) && PastBarges.All(l => !l.Seen || l.Complete);
            if (allComplete) SendExit();
            else if (_socket == SocketState.Connected)
            {
                _socket = SocketState.Lingering;
                _fx.SetTimer(new CallTimer(TimerKind.SocketLinger), _settings.SocketLinger);
            }
        }
        EndCall("completed");
    }

    // ------------------------------------------------------------------ following legs on the control link

    /// <summary>The control link delivers this leg's events from now on (SPEC §4: legs whose socket dropped).</summary>
    private void Follow(Leg leg)
    {
        if (leg.Followed || _phase == CallPhase.Ended) return;
        leg.Followed = true;
        _fx.Follow(leg.Uuid);
    }

    private void Unfollow(Leg leg)
    {
        if (!leg.Followed) return;
        leg.Followed = false;
        _fx.Unfollow(leg.Uuid);
    }

    /// <summary>
    /// The control link takes over a leg's events; one that ended before is found with <c>uuid_exists</c> (asked after
    /// following, so nothing falls between). A callee not seen yet is not asked: the bridge may still bring it.
    /// </summary>
    private void FollowAndCheck(Leg leg)
    {
        Follow(leg);
        if (leg != _b || _b.Seen) CheckExists(leg);
    }

    private void CheckExists(Leg leg) => Api(new FreeSwitch.UuidExists(leg.Uuid), new Pending.CheckExists(leg));

    /// <summary>FreeSWITCH says the leg does not exist; its CHANNEL_HANGUP_COMPLETE may still bring the real cause (SPEC §4).</summary>
    private void ReportGone(Leg leg)
    {
        if (leg.HangupPublished || _phase == CallPhase.Ended) return;
        _fx.SetTimer(leg.Timer(TimerKind.GoneGrace), _settings.GoneGrace);
    }

    private void OnGoneGrace(Leg leg)
    {
        if (leg.HangupPublished || _phase == CallPhase.Ended) return;
        leg.Channel = LegChannel.Destroyed;
        Unfollow(leg);
        HangupLeg(leg, "NORMAL_UNSPECIFIED");
    }
}
