using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Calls;

/// <summary>Control messages (SPEC §5): each gets exactly one ack or failure.</summary>
public sealed partial class CallMachine
{
    private void OnControl(ControlMessage message, long receivedAt)
    {
        if (message.Invalid is { } why)
        {
            _fx.Reply(new ControlReply(message.Type, ReplyKind.Invalid, why, message.Id, receivedAt));
            return;
        }
        if (message.IsOwnPublication) return; // our own publications come back on the channel
        var request = new PendingControl(message.Type, message.Id, receivedAt);
        if (_phase == CallPhase.Ended || AllHungUp() && _a.HangupPublished)
        {
            Refuse(request, "call ended");
            return;
        }
        switch (message.Type)
        {
            case "hangup":
                DoHangup(request);
                break;
            case "barge":
                if (message.PhoneNumber is null && !message.PhoneNumberBad) Refuse(request, "missing phone_number");
                else if (message.PhoneNumberBad || !FieldRules.IsPhoneNumber(message.PhoneNumber)) Refuse(request, "invalid phone_number");
                else if (message.CallerIdBad || message.CallerId is not null && !FieldRules.IsCallerId(message.CallerId)) Refuse(request, "invalid caller_id");
                else DoBarge(request, message.PhoneNumber!, message.CallerId ?? _job.CallerIdLegA);
                break;
            case "whisper":
                SetMode(request, 2);
                break;
            case "mute":
                SetMode(request, 0);
                break;
            case "threeway":
                SetMode(request, 3);
                break;
            case "unthreeway":
                SetMode(request, -1);
                break;
            default:
                Refuse(request, "unknown type");
                break;
        }
    }

    private void Refuse(PendingControl request, string cause)
    {
        _fx.Reply(new ControlReply(request.Type, ReplyKind.Failure, cause, request.Id, request.ReceivedAt));
        _fx.Log(CallLogLevel.Information, "control {Type} refused: {Cause}", request.Type, cause);
    }

    private void Ack(PendingControl request) =>
        _fx.Reply(new ControlReply(request.Type, ReplyKind.Ack, null, request.Id, request.ReceivedAt));

    // ------------------------------------------------------------------ hangup

    private void DoHangup(PendingControl request)
    {
        if (_phase != CallPhase.Started)
        {
            // FreeSWITCH has not taken the originate yet: the legs are killed once it has, and that answers this.
            _hangup = HangupRequest.AwaitingStart;
            _hangupCause = "NORMAL_CLEARING";
            (_hangupsBeforeStart ??= []).Add(request);
            return;
        }
        _hangup = HangupRequest.Requested;
        KillLegs("NORMAL_CLEARING", [request]);
    }

    /// <summary>Hangs up every live leg: answered ones with <paramref name="answeredCause"/>, ringing ones with <paramref name="ringingCause"/>.</summary>
    private void KillLegs(string answeredCause, IReadOnlyList<PendingControl> requests, string ringingCause = "ORIGINATOR_CANCEL")
    {
        var batch = new KillBatch(requests);
        var legs = 0;
        // The barger first (its eavesdrop would otherwise end with the caller), then the caller, whose cause
        // FreeSWITCH hands to the bridged callee, then the callee.
        if (_g is { Alive: true } g)
        {
            batch.Outstanding++;
            legs++;
            if (!Kill(g, g.AnswerPublished ? answeredCause : ringingCause, batch)) KillDone(batch, false);
        }
        if (_a.Alive)
        {
            batch.Outstanding++;
            legs++;
            // uuid_kill, not a queued sendmsg hangup: it acts at once, before the callee's kill can end the bridge
            // and let hangup_after_bridge hang the caller up with NORMAL_CLEARING.
            if (!Kill(_a, _a.AnswerPublished ? answeredCause : ringingCause, batch))
            {
                // Nothing went out: a later attempt must still be able to hang the caller up.
                _a.HangupSent = false;
                KillDone(batch, false);
            }
        }
        if (_b is { Alive: true, Seen: true })
        {
            batch.Outstanding++;
            legs++;
            if (!Kill(_b, _b.AnswerPublished ? answeredCause : ringingCause, batch)) KillDone(batch, false);
        }
        if (legs == 0)
        {
            // nothing left to hang up
            batch.Answered = true;
            batch.Outstanding = 0;
            foreach (var r in requests) Ack(r);
            return;
        }
        KillDone(batch, false);
    }

    private bool Kill(Leg leg, string cause, KillBatch? batch)
    {
        leg.HangupSent = true;
        return Api(new UuidKill(leg.Uuid, cause), new Pending.Kill(leg, batch), preferSocket: SocketAlive);
    }

    /// <summary>One kill of the batch answered (<paramref name="arrived"/>) or failed; the first answer acks.</summary>
    private void KillDone(KillBatch batch, bool arrived)
    {
        if (arrived && !batch.Answered)
        {
            batch.Answered = true;
            foreach (var r in batch.Requests) Ack(r);
        }
        if (--batch.Outstanding == 0 && !batch.Answered)
        {
            batch.Answered = true;
            foreach (var r in batch.Requests) Refuse(r, "freeswitch unavailable");
        }
    }

    // ------------------------------------------------------------------ barge

    private void DoBarge(PendingControl request, string phone, string callerId)
    {
        if (_g is { Alive: true })
        {
            Refuse(request, "barge already active");
            return;
        }
        // Also once the caller's hang-up went out (the callee left): the barger would eavesdrop on a leg being torn down.
        if (!_a.AnswerPublished || _a.HangupPublished || _a.HangupSent || _hangup != HangupRequest.None)
        {
            Refuse(request, "call not answered");
            return;
        }
        var leg = NewLeg(2, LegOrigin.AwaitingReply, _nextBargeUuid);
        leg.Phase = LegPhase.Ringing;
        leg.Request = request;
        _g = leg;
        Mode.Reset();
        _nextBargeUuid = _newUuid();
        _fx.Claim(leg.Uuid);
        _fx.Claim(_nextBargeUuid);
        // The new leg's marks start clear: side 2's earlier events were another leg's.
        _fx.SaveState([(CallState.BargeUuid, leg.Uuid), (CallState.NextBargeUuid, _nextBargeUuid), (CallState.Answered(2), ""), (CallState.HungUp(2), ""),
            (CallState.Mode, "0"), (CallState.ModeBefore, "0")]);
        // The socket carries the new leg's events (its filter went out as the "next" uuid); the next one gets its own.
        if (!SocketAlive || !_fx.SendOnSocket(new FilterLeg(_nextBargeUuid))) Follow(leg); // no socket to carry them
        _fx.Log(CallLogLevel.Information, "barging {Number} (leg {Uuid})", FieldRules.Mask(phone, _settings.LogPhoneNumbers), leg.Uuid);
        if (!BgApi(new Originate(_dial.OriginateBarger(_job, leg.Uuid, phone, callerId, _a.Uuid)), new Pending.BargeOriginate(leg), leg))
        {
            leg.Request = null;
            leg.Phase = LegPhase.Idle;
            leg.Origin = LegOrigin.NotPlaced;
            _g = null;
            Unfollow(leg);
            _fx.Unclaim(leg.Uuid);
            Refuse(request, "freeswitch unavailable");
        }
    }

    private void OnBargeOriginateReply(Leg leg, FsReply reply, bool linkAlreadyBack)
    {
        if (leg.Request is not { } request) return; // settled meanwhile (its events came first, or the call ended)
        if (reply.Outcome == FsOutcome.Accepted)
        {
            Ack(request);
            leg.Request = null;
            MakeReady(leg);
        }
        else if (reply.Outcome == FsOutcome.LinkLost && _phase != CallPhase.Ended)
        {
            // Lost with the link: FreeSWITCH may be ringing the barger. Its events, its BACKGROUND_JOB or uuid_exists
            // once the link is back decide; meanwhile a second barge is refused.
            leg.Origin = LegOrigin.ReplyLost;
            _fx.Log(CallLogLevel.Warning, "control link lost before FreeSWITCH answered the barge originate; checking leg {Uuid} once it is back", leg.Uuid);
            AwaitConfirmation(leg, linkAlreadyBack);
        }
        else DropBarge(leg, reply.Arrived ? reply.Text : "freeswitch unavailable");
    }

    private void OnBargeJob(Leg leg, FsJobResult result)
    {
        if (leg.Unconfirmed) Confirm(leg);
        if (result.Outcome == FsJobOutcome.Answered) AnswerLeg(leg);
        else HangupLeg(leg, result.Outcome == FsJobOutcome.HungUp ? result.Detail : "NORMAL_UNSPECIFIED");
    }

    /// <summary>A barge leg FreeSWITCH never took: its message gets its failure, and a new barge may follow.</summary>
    private void DropBarge(Leg leg, string cause)
    {
        leg.Phase = LegPhase.Idle;
        leg.Origin = LegOrigin.NotPlaced;
        _fx.CancelTimer(leg.Timer(TimerKind.GiveUpLeg));
        if (_g == leg) _g = null;
        Unfollow(leg);
        _fx.Unclaim(leg.Uuid);
        FailPendingModes("barge refused");
        if (leg.Request is { } request) Refuse(request, cause);
        leg.Request = null;
        CheckDone();
    }

    // ------------------------------------------------------------------ whisper, mute, threeway, unthreeway

    /// <summary>whisper = 2, mute = 0, threeway = 3, unthreeway (-1) = the mode before threeway (SPEC §5).</summary>
    private void SetMode(PendingControl request, int digit)
    {
        if (_g is not { Alive: true } g)
        {
            Refuse(request, "no barge leg");
            return;
        }
        // Planned now so that a message right behind this one sees it; a refusal takes it out again.
        var change = Mode.Plan(digit);
        if (change is null)
        {
            Refuse(request, "not in threeway");
            return;
        }
        var pending = request with { Change = change };
        if (!g.AnswerPublished) (_pendingModes ??= []).Add(pending); // applied when the barger answers
        else SendMode(g, pending);
    }

    private void SendMode(Leg leg, PendingControl pending)
    {
        var digit = Mode.Send(pending.Change!);
        if (!Api(new UuidRecvDtmf(leg.Uuid, digit.ToString(System.Globalization.CultureInfo.InvariantCulture)), new Pending.ModeChange(pending), preferSocket: SocketAlive))
            RefuseMode(pending, "freeswitch unavailable");
    }

    private void OnModeReply(PendingControl pending, FsReply reply)
    {
        if (reply.Outcome == FsOutcome.Accepted)
        {
            Mode.Accepted(pending.Change!);
            SaveMode();
            Ack(pending);
        }
        else RefuseMode(pending, reply.Arrived ? reply.Text : "freeswitch unavailable");
    }

    /// <summary>The confirmed mode goes into the state hash: a take-over's unthreeway returns to it (SPEC §8.1).</summary>
    private void SaveMode() =>
        _fx.SaveState([(CallState.Mode, CallState.Number(Mode.Confirmed)), (CallState.ModeBefore, CallState.Number(Mode.ConfirmedBefore))]);

    /// <summary>A mode change FreeSWITCH did not take changes nothing (SPEC §5).</summary>
    private void RefuseMode(PendingControl pending, string cause)
    {
        if (pending.Change is not null) Mode.Refused(pending.Change);
        Refuse(pending, cause);
    }

    private void ApplyPendingModes()
    {
        if (_g is null || _pendingModes is not { } list) return;
        _pendingModes = null;
        foreach (var pm in list) SendMode(_g, pm);
    }

    private void FailPendingModes(string cause)
    {
        if (_pendingModes is not { } list) return;
        _pendingModes = null;
        foreach (var pm in list) RefuseMode(pm, cause);
    }
}
