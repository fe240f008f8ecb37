using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Calls;

/// <summary>The caller's outbound socket: waiting for it, what goes out on it, losing it.</summary>
public sealed partial class CallMachine
{
    private void OnSocketConnected()
    {
        if (!AcceptsSocket) return;
        if (WatchingForLateLeg)
        {
            _socket = SocketState.Connected;
            OnLateLeg(null);
            return;
        }
        _socket = SocketState.Connected;
        _fx.CancelTimer(new CallTimer(TimerKind.SocketLate));
        _fx.CancelTimer(new CallTimer(TimerKind.SocketNeverCame));
        List<string> uuids = [_a.Uuid, _b.Uuid, _nextBargeUuid];
        if (_g is { Alive: true }) uuids.Add(_g.Uuid);
        _fx.SendOnSocket(new SubscribeLegs(uuids));
        // The socket now carries the caller's events; the control link no longer needs to.
        Unfollow(_a);
        // The caller's leg runs our socket app: FreeSWITCH took the originate, whether its reply was lost or is
        // only late (a stalled link).
        ConfirmStart(byReply: false);
        MarkSeen(_a);
        AnswerLeg(_a);
        // Hung up already (asked to, or given up on when its socket was late): not bridged now that it came.
        if (_hangup != HangupRequest.None || _a.HangupSent)
        {
            var cause = _hangup != HangupRequest.None ? _hangupCause : "NORMAL_CLEARING";
            if (_hangup != HangupRequest.None) _hangup = HangupRequest.Requested;
            _a.HangupSent = true;
            var pending = TakeHangupsBeforeStart();
            var correlation = Track(new Pending.SocketHangup(pending));
            if (!_fx.SendOnSocket(new HangupCaller(cause), correlation))
            {
                _pending.Remove(correlation);
                foreach (var h in pending) Refuse(h, "freeswitch unavailable");
            }
            return;
        }
        if (_b.Phase == LegPhase.Idle) _b.Phase = LegPhase.Ringing;
        _fx.Log(CallLogLevel.Debug, "caller answered; bridging callee {Number} (leg {Uuid})", FieldRules.Mask(_job.CalleeNumber, _settings.LogPhoneNumbers), _b.Uuid);
        var bridge = Track(new Pending.Bridge());
        if (!_fx.SendOnSocket(new BridgeCallee(_dial.BridgeCallee(_job, _b.Uuid)), bridge)) _pending.Remove(bridge);
    }

    private void OnSocketClosed()
    {
        if (!SocketPresent) return;
        var exitSent = _socket == SocketState.Exiting;
        _fx.CancelTimer(new CallTimer(TimerKind.SocketLinger));
        var dropped = !exitSent && !AllHungUp();
        _socket = SocketState.Closed;
        if (dropped)
        {
            _fx.Log(CallLogLevel.Warning, "outbound socket dropped; following the legs through the control link");
            // From now on the control link carries the legs' events; a leg that ended while its events were only on
            // the socket would never be reported otherwise.
            foreach (var leg in new[] { _a, _b, _g })
                if (leg is { Alive: true }) FollowAndCheck(leg);
        }
        if (AllHungUp()) SynthesizeMissing("NORMAL_UNSPECIFIED");
        CheckDone();
    }

    private void SendExit()
    {
        if (!SocketAlive) return;
        _socket = SocketState.Exiting;
        _fx.CancelTimer(new CallTimer(TimerKind.SocketLinger));
        _fx.SendOnSocket(new ExitSocket());
    }

    /// <summary>The caller answered: its socket is due within milliseconds.</summary>
    private void ExpectSocket()
    {
        if (_socket != SocketState.NotExpected) return;
        _socket = SocketState.Expected;
        _fx.SetTimer(new CallTimer(TimerKind.SocketLate), _settings.SocketLateAfter);
    }

    /// <summary>
    /// The socket is late: from now on the control link reports the caller's end (a caller who hung up meanwhile is
    /// found by uuid_exists). Following only late legs keeps the link quiet for the normal call.
    /// </summary>
    private void OnSocketLate()
    {
        if (_socket != SocketState.Expected) return;
        if (_phase == CallPhase.Ended || !_a.Alive || _a.HangupSent)
        {
            _socket = SocketState.NotExpected;
            return;
        }
        _socket = SocketState.Late;
        _fx.Log(CallLogLevel.Warning, "the caller's leg has not connected to the outbound server yet; following it through the control link");
        Follow(_a);
        CheckExists(_a);
        _fx.SetTimer(new CallTimer(TimerKind.SocketNeverCame), _settings.SocketConnectTimeout - _settings.SocketLateAfter);
    }

    /// <summary>SOCKET_CONNECT_TIMEOUT passed without the socket: nobody controls the caller's leg, hang it up.</summary>
    private void OnSocketNeverCame()
    {
        if (_socket != SocketState.Late) return;
        _socket = SocketState.GaveUp;
        if (_phase == CallPhase.Ended || !_a.Alive || _a.HangupSent) return;
        _fx.Log(CallLogLevel.Warning, "the caller's leg never connected to the outbound server; hanging it up");
        HangupCaller("NORMAL_CLEARING");
    }

    /// <summary>The caller's leg alone: on its socket while it is up, else uuid_kill on the control link.</summary>
    private void HangupCaller(string cause)
    {
        _a.HangupSent = true;
        // A socket that closed a moment ago is still "alive" until its close is handled: then the link carries it.
        if (SocketAlive && _fx.SendOnSocket(new HangupCaller(cause))) return;
        Follow(_a);
        // Nothing went out (the link is down): a later attempt, or the link's return, must still be able to.
        if (!Api(new UuidKill(_a.Uuid, cause), new Pending.KillCaller())) _a.HangupSent = false;
    }
}
