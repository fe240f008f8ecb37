using System.Globalization;
using Redswitch.Simulator.Dial;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Core;

public sealed partial class SimSwitch
{
    /// <summary>A running originate (or bridge dial): groups tried in turn, legs of a group rung together.</summary>
    private sealed class DialAttempt
    {
        public required DialPlanTarget Target;
        public Channel? Originator;
        public int TimeoutSeconds;
        public string? CidName, CidNumber;
        public string? Context = null;
        public required Action<Channel?, string> Done;
        public int Group = -1;
        public List<Channel> Ringing = new();
        public int Pending;
        public string LastCause = "NORMAL_CLEARING";
        public bool Finished;
        public List<string> Causes = new();
    }

    private void Dial(DialAttempt d) => NextGroup(d);

    private void NextGroup(DialAttempt d)
    {
        if (d.Finished) return;
        d.Group++;
        if (d.Group >= d.Target.Groups.Count)
        {
            d.Finished = true;
            d.Done(null, d.Target.Groups.Count == 0 ? "DESTINATION_OUT_OF_ORDER" : d.LastCause);
            return;
        }
        d.Ringing.Clear();
        var legs = d.Target.Groups[d.Group];
        d.Pending = 0;
        var toStart = new List<(Channel, DialLeg)>();
        foreach (var leg in legs)
        {
            var pre = PreCheck(leg);
            if (pre != null) { d.LastCause = pre; continue; }
            var uuid = leg.Var("origination_uuid");
            if (uuid != null && _channels.ContainsKey(uuid)) { d.LastCause = "NORMAL_TEMPORARY_FAILURE"; continue; }
            var ch = CreateLeg(leg, d, uuid ?? NewUuid());
            d.Ringing.Add(ch);
            d.Pending++;
            toStart.Add((ch, leg));
        }
        if (d.Pending == 0) { NextGroup(d); return; }
        foreach (var (ch, leg) in toStart) StartPhone(ch, leg, d);
    }

    private string? PreCheck(DialLeg leg)
    {
        if (!DialString.KnownTypes.Contains(leg.Type)) return "CHAN_NOT_IMPLEMENTED";
        if (leg.Type.Equals("error", StringComparison.OrdinalIgnoreCase))
            return HangupCauses.Normalize(leg.Number);
        if (leg.Gateway != null && Options.Gateways != null && !Options.Gateways.Contains(leg.Gateway))
            return "NO_ROUTE_DESTINATION";
        if (leg.Number.Length == 0) return "DESTINATION_OUT_OF_ORDER";
        return null;
    }

    private Channel CreateLeg(DialLeg leg, DialAttempt d, string uuid)
    {
        var type = leg.Type.ToLowerInvariant();
        var name = type switch
        {
            "loopback" => $"loopback/{leg.Number}-a",
            _ => leg.Endpoint,
        };
        var ch = new Channel(uuid, name, leg.Number, type, Interlocked.Increment(ref _sessionId));
        var a = d.Originator;
        var now = NowMicros();
        ch.CreatedTime = now;
        ch.Source = type == "loopback" ? "mod_loopback" : "mod_" + type;
        ch.Context = d.Context ?? (type == "loopback" ? LoopbackContext(leg.Endpoint) : "default");
        var cidName = leg.Var("origination_caller_id_name") ?? d.CidName;
        ch.CallerIdName = cidName ?? a?.CallerIdName;
        ch.CallerIdNumber = leg.Var("origination_caller_id_number") ?? d.CidNumber ?? a?.CallerIdNumber ?? "0000000000";
        ch.OrigCallerIdName = cidName;
        ch.OrigCallerIdNumber = ch.CallerIdNumber;
        ch.Ani = ch.CallerIdNumber;
        ch.CalleeIdName = "Outbound Call";
        ch.CalleeIdNumber = leg.Var("origination_callee_id_number") ?? (type == "loopback" ? ch.Context : leg.Number);
        ch.DestinationNumber = leg.Number;
        ch.Behaviour = BehaviourFor(leg.Number);

        var v = ch.Vars;
        v.Set("direction", "outbound");
        v.Set("is_outbound", "true");
        v.Set("session_id", ch.SessionId.ToString(CultureInfo.InvariantCulture));
        v.Set("read_codec", "L16");
        v.Set("read_rate", "8000");
        v.Set("write_codec", "L16");
        v.Set("write_rate", "8000");
        if (a != null && type == "loopback") v.Set("loopback_from_uuid", a.Uuid);
        v.Set("channel_name", name);
        v.Set("uuid", uuid);
        if (a != null)
        {
            v.Set("max_forwards", "70");
            v.Set("originator_codec", "L16@8000h@20i");
            v.Set("originator", a.Uuid);
            v.Set("signal_bond", a.Uuid);
            v.Set("call_uuid", a.Uuid);
        }
        else v.Set("call_uuid", uuid);
        foreach (var kv in leg.Variables) v.Set(kv.Key, kv.Value);
        if (a != null)
        {
            if (a.Vars.Get("ignore_early_media") is { } iem && v.Get("ignore_early_media") == null) v.Set("ignore_early_media", iem);
        }
        var ignoreEarly = string.Equals(v.Get("ignore_early_media"), "true", StringComparison.OrdinalIgnoreCase);
        v.Set("originate_early_media", ignoreEarly ? "false" : "true");
        if (a != null) v.Set("originating_leg_uuid", a.Uuid);
        v.Set("originate_endpoint", type);
        var phoneUuid = type == "loopback" ? NewUuid() : null;
        if (phoneUuid != null)
        {
            v.Set("other_loopback_leg_uuid", phoneUuid);
            v.Set("loopback_leg", "A");
        }
        if (a != null)
        {
            ch.OtherType = "originator";
            ch.OtherLeg = a;
            ch.OtherLegZeroTimes = true;
            ch.OtherLegSnapshot = new();
            a.AddProfile(ch.OtherLegSnapshot, "Other-Leg-", zeroTimes: true, withIndex: false, logicalInbound: true);
        }

        _channels[uuid] = ch;
        Interlocked.Increment(ref _sessionsSinceStartup);
        _live++;
        if (_live > _peak) _peak = _live;

        ch.RunningState = "CS_NEW";
        ch.StateNumber = 0;
        ch.CallState = "DOWN";
        FireChannel(ch, "CHANNEL_OUTGOING", "switch_core_session.c", "switch_core_session_outgoing_channel", 768, withVars: false);
        ch.RunningState = "CS_INIT";
        ch.StateNumber = 2;
        FireChannel(ch, "CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 626, withVars: true);
        FireChannel(ch, "CHANNEL_ORIGINATE", "switch_core_state_machine.c", "switch_core_session_run", 632, withVars: true);
        FireState(ch);
        SetState(ch, "CS_CONSUME_MEDIA", 7);
        if (phoneUuid != null) CreateLoopbackB(ch, leg, phoneUuid, a);
        return ch;
    }

    /// <summary>
    /// The <c>-b</c> half of a loopback call: an inbound channel into the dialled context, where the phone's
    /// extension runs (esl-captures' phones-context.xml). Its variables are the leg's dial-string variables.
    /// </summary>
    private void CreateLoopbackB(Channel a, DialLeg leg, string uuid, Channel? originator)
    {
        var name = $"loopback/{leg.Number}-b";
        var b = new Channel(uuid, name, leg.Number, "loopback", Interlocked.Increment(ref _sessionId))
        {
            Direction = "inbound",
            LogicalDirection = "inbound",
            HitDialplan = true,
            CreatedTime = NowMicros(),
            Source = "mod_loopback",
            Context = a.Context,
            CallerIdName = a.CallerIdName,
            CallerIdNumber = a.CallerIdNumber,
            OrigCallerIdName = a.OrigCallerIdName,
            OrigCallerIdNumber = a.OrigCallerIdNumber,
            Ani = a.Ani,
            CalleeIdName = "Outbound Call",
            CalleeIdNumber = a.CalleeIdNumber,
            DestinationNumber = leg.Number,
            Behaviour = a.Behaviour,
            IsLoopbackB = true,
            LoopbackPeer = a,
        };
        a.LoopbackPeer = b;
        var v = b.Vars;
        v.Set("direction", "inbound");
        v.Set("uuid", uuid);
        v.Set("call_uuid", uuid);
        v.Set("session_id", b.SessionId.ToString(CultureInfo.InvariantCulture));
        v.Set("channel_name", name);
        v.Set("read_codec", "L16");
        v.Set("read_rate", "8000");
        v.Set("write_codec", "L16");
        v.Set("write_rate", "8000");
        foreach (var kv in leg.Variables) v.Set(kv.Key, kv.Value);
        if (v.Get("ignore_early_media") == null) v.Set("ignore_early_media", a.Vars.Get("ignore_early_media"));
        v.Set("other_loopback_leg_uuid", a.Uuid);
        if (originator != null) v.Set("other_loopback_from_uuid", originator.Uuid);
        v.Set("loopback_leg", "B");

        _channels[uuid] = b;
        Interlocked.Increment(ref _sessionsSinceStartup);
        _live++;
        if (_live > _peak) _peak = _live;
        b.RunningState = "CS_INIT";
        b.StateNumber = 2;
        FireChannel(b, "CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 626, withVars: true);
        FireState(b);
    }

    /// <summary>The dialled phone's extension, as in the captures' phones context (SPEC §9 behaviours).</summary>
    internal static Queue<(string App, string? Data)> PhoneExtension(PhoneBehaviour b)
    {
        static string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var q = new Queue<(string, string?)>();
        if (b.RejectCause != null)
        {
            q.Enqueue(("hangup", HangupCauses.Normalize(b.RejectCause)));
            return q;
        }
        if (b.Rings) q.Enqueue(("ring_ready", null));
        if (b.AnswerAfter is { } answer)
        {
            if (answer > TimeSpan.Zero) q.Enqueue(("sleep", Ms(answer)));
            q.Enqueue(("answer", null));
            if (b.HangupAfter is { } after)
            {
                q.Enqueue(("sleep", Ms(after)));
                q.Enqueue(("hangup", HangupCauses.Normalize(b.HangupCause)));
            }
            else q.Enqueue(("park", null));
        }
        else if (b.GiveUpAfter is { } giveUp)
        {
            q.Enqueue(("sleep", Ms(giveUp)));
            q.Enqueue(("hangup", HangupCauses.Normalize(b.GiveUpCause)));
        }
        else q.Enqueue(("park", null)); // rings until the caller gives up
        return q;
    }

    /// <summary>The -b half is routed into the phone's extension and runs it.</summary>
    private void RunPhoneExtension(Channel b)
    {
        if (b.IsHungUp) return;
        SetState(b, "CS_ROUTING", 2);
        SetCallState(b, "RINGING");
        SetState(b, "CS_EXECUTE", 4);
        // as on every leg that starts its dialplan, call_uuid is set again (it moves to the end)
        var callUuid = b.Vars.Get("call_uuid") ?? b.Uuid;
        b.Vars.Remove("call_uuid");
        b.Vars.Set("call_uuid", callUuid);
        b.RunsDialplan = true;
        b.DialplanSteps = PhoneExtension(b.Behaviour!);
        AfterAppReturned(b);
    }

    private static string LoopbackContext(string endpoint)
    {
        var parts = endpoint.Split('/');
        return parts.Length >= 3 && parts[2].Length > 0 ? parts[2] : "default";
    }

    private void StartPhone(Channel ch, DialLeg leg, DialAttempt d)
    {
        var b = ch.Behaviour!;
        ch.OnFailedBeforeAnswer = cause =>
        {
            d.Ringing.Remove(ch);
            d.LastCause = cause;
            d.Causes.Add($"{ch.Uuid};{cause}");
            if (d.Finished) return;
            if (--d.Pending == 0) NextGroup(d);
        };
        ch.OnAnsweredByPhone = () =>
        {
            if (d.Finished) return;
            d.Finished = true;
            foreach (var other in d.Ringing.ToArray())
                if (other != ch) { other.OnFailedBeforeAnswer = null; Hangup(other, "LOSE_RACE"); }
            d.Ringing.Clear();
            d.Done(ch, "SUCCESS");
        };
        // originate timeout: leg_timeout, else originate_timeout, else the API's timeout argument
        int timeout = d.TimeoutSeconds;
        if (int.TryParse(leg.Var("originate_timeout"), out var ot) && ot > 0) timeout = ot;
        if (int.TryParse(leg.Var("leg_timeout"), out var lt) && lt > 0) timeout = lt;
        ch.RingTimer = Schedule(TimeSpan.FromSeconds(timeout), () =>
        {
            if (!ch.IsAnswered && !ch.IsHungUp) Hangup(ch, "NO_ANSWER");
        });
        if (ch.LoopbackPeer is { } phone)
        {
            // a loopback call: the phone is the -b half running its extension; ringing, answer and hangup cross over
            phone.PhoneTimer = Schedule(TimeSpan.Zero, () => RunPhoneExtension(phone));
            return;
        }

        if (b.RejectCause != null)
        {
            ch.PhoneTimer = Schedule(TimeSpan.Zero, () => Hangup(ch, HangupCauses.Normalize(b.RejectCause)));
            return;
        }
        void AfterRing()
        {
            if (ch.IsHungUp) return;
            if (b.AnswerAfter is { } ans)
                ch.PhoneTimer = Schedule(ans, () => PhoneAnswers(ch));
            else if (b.GiveUpAfter is { } give)
                ch.PhoneTimer = Schedule(give, () => { if (!ch.IsAnswered) Hangup(ch, HangupCauses.Normalize(b.GiveUpCause)); });
        }
        if (b.Rings)
        {
            ch.PhoneTimer = Schedule(TimeSpan.Zero, () =>
            {
                if (ch.IsHungUp) return;
                Progress(ch);
                AfterRing();
            });
        }
        else AfterRing();
    }

    private void Progress(Channel ch)
    {
        if (ch.ProgressTime != 0 || ch.IsHungUp) return;
        ch.ProgressTime = NowMicros();
        FireChannel(ch, "CHANNEL_PROGRESS", "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3507, withVars: true);
        if (ch.CallState == "DOWN") SetCallState(ch, "RINGING");
    }

    internal void PhoneAnswers(Channel ch)
    {
        if (ch.IsHungUp || ch.IsAnswered) return;
        ch.RingTimer?.Cancel();
        Answer(ch);
        var b = ch.Behaviour!;
        if (ch.LoopbackPeer == null && b.HangupAfter is { } after)
            ch.PhoneTimer = Schedule(after, () => Hangup(ch, HangupCauses.Normalize(b.HangupCause)));
        var cb = ch.OnAnsweredByPhone;
        ch.OnAnsweredByPhone = null;
        ch.OnFailedBeforeAnswer = null;
        cb?.Invoke();
    }

    internal void Answer(Channel ch)
    {
        if (ch.IsAnswered || ch.IsHungUp) return;
        ch.AnsweredTime = NowMicros();
        if (ch.ProgressTime == 0 && ch.OtherType == null) ch.ProgressTime = 0;
        FireChannel(ch, "CHANNEL_ANSWER", "switch_channel.c", "switch_channel_perform_mark_answered", 3848, withVars: true);
        SetCallState(ch, "ACTIVE");
        ch.CalleeIdNumber ??= ch.Number;
    }

    // ------------------------------------------------------------------ originate API

    internal void Originate(OriginateArgs args, Action<string> done)
    {
        var d = new DialAttempt
        {
            Target = args.Target,
            TimeoutSeconds = args.TimeoutSeconds,
            CidName = args.CidName,
            CidNumber = args.CidNumber,
            Done = (ch, cause) =>
            {
                if (ch == null) { done($"-ERR {cause}\n"); return; }
                // queued before the result goes out, so the application starts before any later command is read
                Post(() => StartDialplan(ch, args));
                done($"+OK {ch.Uuid}\n");
            },
        };
        Dial(d);
    }

    private void StartDialplan(Channel ch, OriginateArgs args)
    {
        if (ch.IsHungUp) return;
        ch.Vars.Set("endpoint_disposition", "ANSWER");
        if (ch.CallerIdName != null) ch.Vars.Set("pre_transfer_caller_id_name", ch.CallerIdName);
        ch.Vars.Set("pre_transfer_caller_id_number", ch.CallerIdNumber);
        // the answered leg now shows the far end: caller and callee ids swap (observed on every originated leg)
        (ch.CallerIdName, ch.CalleeIdName) = (ch.CalleeIdName, ch.CallerIdName);
        (ch.CallerIdNumber, ch.CalleeIdNumber) = (ch.CalleeIdNumber, ch.CallerIdNumber);
        ch.Vars.Set("channel_cid_flipped", "yes");
        // observed: call_uuid is set again once the leg runs its application (it moves to the end)
        var callUuid = ch.Vars.Get("call_uuid") ?? ch.Uuid;
        ch.Vars.Remove("call_uuid");
        ch.Vars.Set("call_uuid", callUuid);
        ch.HitDialplan = true;
        SetCallState(ch, "ACTIVE");
        SetState(ch, "CS_EXECUTE", 4);
        if (args.AppName != null)
        {
            ch.RunsDialplan = true;
            ExecuteApp(ch, args.AppName, string.IsNullOrEmpty(args.AppArgs) ? null : args.AppArgs, NewUuid(), null, false, null);
        }
        // an extension: the simulator has no dialplan, the leg just stays up (as if parked)
    }

    // ------------------------------------------------------------------ hangup

    /// <summary>Hangs a channel up (FS's switch_channel_hangup): CHANNEL_HANGUP now, CHANNEL_HANGUP_COMPLETE later.</summary>
    internal void Hangup(Channel ch, string cause)
    {
        if (ch.IsHungUp) return;
        ch.PhoneTimer?.Cancel();
        ch.RingTimer?.Cancel();
        ch.HangupCause = cause;
        ch.StateNumber = 10;
        ch.HangupTime = NowMicros();
        if (ch.BridgedTo is { } peerBefore && !peerBefore.EndingBridge)
        {
            // the leg that ends the bridge records its peer and role; the survivor records the cause
            ch.Vars.Set("bridge_to", peerBefore.Uuid);
            ch.Vars.Set("last_bridge_role", ch.BridgeInitiator ? "originator" : "originatee");
            peerBefore.Vars.Set("last_bridge_hangup_cause", cause);
        }
        FireChannel(ch, "CHANNEL_HANGUP", "switch_channel.c", "switch_channel_perform_hangup", 3447, withVars: true);

        if (ch.BridgedTo is { } peer)
        {
            if (ch.BridgeInitiator)
            {
                ch.EndingBridge = true;
                Hangup(peer, cause);
                ch.EndingBridge = false;
                Post(() => Report(ch));
                EndBridge(ch, cause);
            }
            else
            {
                Post(() => Report(ch));
                EndBridge(peer, cause);
            }
        }
        else Post(() => Report(ch));

        if (!ch.IsAnswered && ch.OnFailedBeforeAnswer is { } failed)
        {
            ch.OnFailedBeforeAnswer = null;
            ch.OnAnsweredByPhone = null;
            failed(cause);
        }

        // eavesdroppers on this channel lose their target
        foreach (var other in ch.Eavesdroppers.ToArray())
            if (other.EavesdropTarget == ch.Uuid && !other.IsHungUp)
                EndEavesdrop(other);
        ch.Eavesdroppers.Clear();

        // applications end, innermost first
        for (int i = ch.Apps.Count - 1; i >= 0; i--)
        {
            if (i >= ch.Apps.Count) continue;
            var f = ch.Apps[i];
            if (f.Completed) continue;
            f.OnHangup?.Invoke();
            CompleteApp(ch, f);
        }
        ch.AppQueue.Clear();
        ch.DialplanSteps = null;
        SetState(ch, "CS_HANGUP", 10);
        // the other half of a loopback call goes down with the same cause
        if (ch.LoopbackPeer is { IsHungUp: false } half) Hangup(half, cause);
    }

    /// <summary>Changes the running state and fires CHANNEL_STATE (basic data only).</summary>
    private void SetState(Channel ch, string running, int number)
    {
        if (ch.RunningState == running && ch.StateNumber == number) return;
        ch.RunningState = running;
        ch.StateNumber = number;
        FireState(ch);
    }

    private void FireState(Channel ch) =>
        FireChannel(ch, "CHANNEL_STATE", "switch_channel.c", "switch_channel_perform_set_running_state", 2409, withVars: false);

    private static readonly string[] CallStates = ["DOWN", "DIALING", "RINGING", "EARLY", "ACTIVE", "HELD", "RING_WAIT", "HANGUP", "UNHELD"];

    /// <summary>Changes the call state and fires CHANNEL_CALLSTATE.</summary>
    private void SetCallState(Channel ch, string callState)
    {
        if (ch.CallState == callState) return;
        var old = ch.CallState;
        ch.CallState = callState;
        FireChannel(ch, "CHANNEL_CALLSTATE", "switch_channel.c", "switch_channel_perform_set_callstate", 302, withVars: false,
            after: [new("Original-Channel-Call-State", old),
                    new("Channel-Call-State-Number", Array.IndexOf(CallStates, callState).ToString(CultureInfo.InvariantCulture))]);
    }

    private void Report(Channel ch)
    {
        SetCallState(ch, "HANGUP");
        SetState(ch, "CS_REPORTING", 11);
        SetBillingVars(ch);
        var cause = ch.HangupCause ?? "NORMAL_CLEARING";
        FireChannel(ch, "CHANNEL_HANGUP_COMPLETE", "switch_core_state_machine.c", "switch_core_session_reporting_state", 943,
            withVars: true, before: [new("Hangup-Cause", cause)]);
        foreach (var s in ch.Sessions.ToArray()) s.OnBoundChannelDone();
        SetState(ch, "CS_DESTROY", 12);
        FireChannel(ch, "CHANNEL_DESTROY", "switch_core_session.c", "switch_core_session_perform_destroy", 1588, withVars: true);
        ch.Destroyed = true;
        _channels.Remove(ch.Uuid);
        _live--;
        LogCall(ch);
    }

    private void SetBillingVars(Channel ch)
    {
        var v = ch.Vars;
        static string Stamp(long us) => DateTime.UnixEpoch.AddTicks(us * 10).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        static string S(long x) => x.ToString(CultureInfo.InvariantCulture);
        var end = ch.HangupTime == 0 ? NowMicros() : ch.HangupTime;
        var cause = ch.HangupCause ?? "NORMAL_CLEARING";
        v.Set("hangup_cause", cause);
        v.Set("hangup_cause_q850", S(HangupCauses.Q850(cause)));
        v.Set("digits_dialed", ch.DigitsDialed.Length > 0 ? ch.DigitsDialed : "none");
        v.Set("start_stamp", Stamp(ch.CreatedTime));
        v.Set("profile_start_stamp", Stamp(ch.CreatedTime));
        if (ch.AnsweredTime != 0) v.Set("answer_stamp", Stamp(ch.AnsweredTime));
        if (ch.BridgedTime != 0) v.Set("bridge_stamp", Stamp(ch.BridgedTime));
        if (ch.ProgressTime != 0) v.Set("progress_stamp", Stamp(ch.ProgressTime));
        v.Set("end_stamp", Stamp(end));
        v.Set("start_epoch", S(ch.CreatedTime / 1_000_000));
        v.Set("start_uepoch", S(ch.CreatedTime));
        v.Set("profile_start_epoch", S(ch.CreatedTime / 1_000_000));
        v.Set("profile_start_uepoch", S(ch.CreatedTime));
        v.Set("answer_epoch", S(ch.AnsweredTime / 1_000_000));
        v.Set("answer_uepoch", S(ch.AnsweredTime));
        v.Set("bridge_epoch", S(ch.BridgedTime / 1_000_000));
        v.Set("bridge_uepoch", S(ch.BridgedTime));
        foreach (var z in new[] { "last_hold_epoch", "last_hold_uepoch", "hold_accum_seconds", "hold_accum_usec", "hold_accum_ms", "resurrect_epoch", "resurrect_uepoch" })
            v.Set(z, "0");
        v.Set("progress_epoch", S(ch.ProgressTime / 1_000_000));
        v.Set("progress_uepoch", S(ch.ProgressTime));
        v.Set("progress_media_epoch", "0");
        v.Set("progress_media_uepoch", "0");
        v.Set("end_epoch", S(end / 1_000_000));
        v.Set("end_uepoch", S(end));
        if (ch.LastApp != null) v.Set("last_app", ch.LastApp);
        if (ch.LastArg != null) v.Set("last_arg", ch.LastArg);
        // observed: "Name" <number>, or the bare number when the leg has no caller-id name
        v.Set("caller_id", string.IsNullOrEmpty(ch.CallerIdName) ? ch.CallerIdNumber : $"\"{ch.CallerIdName}\" <{ch.CallerIdNumber}>");
        long dur = end - ch.CreatedTime;
        long bill = ch.AnsweredTime != 0 ? end - ch.AnsweredTime : 0;
        long prog = ch.ProgressTime != 0 ? ch.ProgressTime - ch.CreatedTime : 0;
        long ans = ch.AnsweredTime != 0 ? ch.AnsweredTime - ch.CreatedTime : 0;
        long wait = ch.BridgedTime != 0 ? ch.BridgedTime - ch.CreatedTime : 0;
        // The same seven billing figures in seconds, milliseconds and microseconds, in that order.
        foreach (var (durationPrefix, unit, divisor) in new[] { ("", "sec", 1_000_000L), ("m", "msec", 1000L), ("u", "usec", 1L) })
        {
            v.Set(durationPrefix + "duration", S(dur / divisor));
            v.Set("bill" + unit, S(bill / divisor));
            v.Set("progress" + unit, S(prog / divisor));
            v.Set("answer" + unit, S(ans / divisor));
            v.Set("wait" + unit, S(wait / divisor));
            v.Set("progress_media" + unit, "0");
            v.Set("flow_bill" + unit, S(dur / divisor));
        }

        if (ch.EndpointType == "loopback") v.Set("is_loopback", "1");
    }

    // ------------------------------------------------------------------ applications

    internal void ExecuteApp(Channel ch, string name, string? data, string appUuid, string? appUuidName, bool eventLock, SendMsg? source, int loop = 1)
    {
        if (ch.IsHungUp) return;
        var frame = new AppFrame
        {
            Name = name, Data = data, AppUuid = appUuid, AppUuidName = appUuidName, EventLock = eventLock, Source = source,
            Loop = loop, Started = System.Diagnostics.Stopwatch.GetTimestamp(),
        };
        ch.Apps.Add(frame);
        ch.LastApp = name;
        ch.LastArg = data;
        if (source != null)
        {
            ch.Vars.Set("current_loop", loop.ToString(CultureInfo.InvariantCulture));
            ch.Vars.Set("total_loops", source.Loops.ToString(CultureInfo.InvariantCulture));
        }
        ch.Vars.Set("current_application_data", data);
        ch.Vars.Set("current_application", name);
        FireChannel(ch, "CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2949, withVars: true,
            after: AppHeaders(frame, withResponse: false));
        var lower = name.ToLowerInvariant();
        switch (lower)
        {
            case "answer":
                // the phone half of a loopback call answers: the caller's half is answered first
                if (ch.IsLoopbackB && ch.LoopbackPeer is { } answered) PhoneAnswers(answered);
                Answer(ch);
                if (ch.IsLoopbackB && !ch.IsHungUp) ch.Vars.Set("endpoint_disposition", "ANSWER");
                CompleteApp(ch, frame);
                break;
            case "pre_answer":
                if (ch.ProgressMediaTime == 0) ch.ProgressMediaTime = NowMicros();
                CompleteApp(ch, frame);
                break;
            case "ring_ready":
                if (ch.IsLoopbackB && ch.LoopbackPeer is { } ringing) Progress(ringing);
                Progress(ch);
                CompleteApp(ch, frame);
                break;
            case "park":
                frame.Parked = true;
                FireChannel(ch, "CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1002, withVars: true);
                break;
            case "sleep":
                {
                    int ms = int.TryParse(data, out var n) && n > 0 ? n : 0;
                    frame.Timer = Schedule(TimeSpan.FromMilliseconds(ms), () => CompleteApp(ch, frame));
                    break;
                }
            case "playback":
                {
                    int ms = 0;
                    if (data != null && data.StartsWith("silence_stream://", StringComparison.OrdinalIgnoreCase)
                        && int.TryParse(data[17..].Split(',')[0], out var n) && n > 0) ms = n;
                    frame.Response = "FILE PLAYED";
                    frame.Timer = Schedule(TimeSpan.FromMilliseconds(ms), () => CompleteApp(ch, frame));
                    break;
                }
            case "hangup":
                Hangup(ch, HangupCauses.Normalize(data));
                break;
            case "set":
                if (data != null)
                {
                    var eq = data.IndexOf('=');
                    if (eq > 0) ch.Vars.Set(data[..eq], data[(eq + 1)..]);
                }
                CompleteApp(ch, frame);
                break;
            case "unset":
                if (data != null) ch.Vars.Remove(data.Trim());
                CompleteApp(ch, frame);
                break;
            case "bridge":
                StartBridge(ch, frame, data ?? "");
                break;
            case "eavesdrop":
                StartEavesdrop(ch, frame, (data ?? "").Trim());
                break;
            case "socket":
                StartSocket(ch, frame, data ?? "");
                break;
            default:
                CompleteApp(ch, frame);
                break;
        }
    }

    private static List<KeyValuePair<string, string>> AppHeaders(AppFrame f, bool withResponse)
    {
        var list = new List<KeyValuePair<string, string>> { new("Application", f.Name) };
        if (!string.IsNullOrEmpty(f.Data)) list.Add(new("Application-Data", f.Data));
        if (withResponse) list.Add(new("Application-Response", f.Response));
        list.Add(new("Application-UUID", f.AppUuid));
        if (!string.IsNullOrEmpty(f.AppUuidName)) list.Add(new("Application-UUID-Name", f.AppUuidName));
        return list;
    }

    internal void CompleteApp(Channel ch, AppFrame frame)
    {
        if (frame.Completed) return;
        frame.Completed = true;
        frame.Timer?.Cancel();
        if (frame.IsSocketPark && frame.Parked)
        {
            frame.Parked = false;
            FireChannel(ch, "CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1213, withVars: true);
        }
        FireChannel(ch, "CHANNEL_EXECUTE_COMPLETE", "switch_core_session.c", "switch_core_session_exec", 2972, withVars: true,
            after: AppHeaders(frame, withResponse: true));
        if (frame.Source != null)
        {
            ch.Vars.Remove("current_loop");
            ch.Vars.Remove("total_loops");
        }
        ch.Apps.Remove(frame);
        // loops: N runs (-1 forever); stops early when a run took less than 0.5 s (switch_ivr_parse_event)
        if (frame.Source is { } again && !ch.IsHungUp && again.Loops != 1 && (again.Loops < 0 || frame.Loop < again.Loops)
            && System.Diagnostics.Stopwatch.GetElapsedTime(frame.Started) >= TimeSpan.FromMilliseconds(500))
        {
            ExecuteApp(ch, frame.Name, frame.Data, frame.AppUuid, frame.AppUuidName, frame.EventLock, again, frame.Loop + 1);
            if (ch.Apps.LastOrDefault(f => f.Source == again && !f.Completed) is { } next)
            {
                next.Queued = frame.Queued;
                next.OnComplete = frame.OnComplete;
                return;
            }
        }
        frame.OnComplete?.Invoke();
        if (frame.Source is { } src && frame.Queued)
            FirePrivateCommand(ch, src);
        if (ch.IsHungUp) return;
        AfterAppReturned(ch);
    }

    /// <summary>Runs what follows when an application returns on a channel that is still up.</summary>
    private void AfterAppReturned(Channel ch)
    {
        if (ch.IsHungUp) return;
        // queued sendmsg applications wait for a locked application
        if (ch.AppQueue.Count > 0 && !ch.Apps.Any(a => a.EventLock))
        {
            var q = ch.AppQueue.Dequeue();
            ExecuteApp(ch, q.Name, q.Data, q.AppUuid ?? NewUuid(), q.AppUuidName, q.EventLock, q.Source);
            if (ch.Apps.LastOrDefault() is { } top && top.Source == q.Source) top.Queued = true;
            return;
        }
        if (ch.Apps.Count > 0)
        {
            var top = ch.Apps[^1];
            if (top.IsSocketPark && top.ListenerGone) { CompleteApp(ch, top); return; }
            return;
        }
        if (ch.DialplanSteps is { Count: > 0 } steps)
        {
            var (app, data) = steps.Dequeue();
            ExecuteApp(ch, app, data, NewUuid(), null, false, null);
            return;
        }
        if (ch.RunsDialplan)
        {
            // the originate's application was the last dialplan instruction
            Hangup(ch, "NORMAL_CLEARING");
        }
    }

    private void FirePrivateCommand(Channel ch, SendMsg msg)
    {
        var h = StandardHeaders("PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_next_event", 796);
        foreach (var kv in msg.Headers) h.Add(kv);
        ch.AddChannelData(h, withVars: false);
        Publish(new SimEvent("PRIVATE_COMMAND", h, null) { ChannelUuid = ch.Uuid });
    }

    // ------------------------------------------------------------------ sendmsg

    internal void RunSendMsg(Channel ch, SendMsg msg, bool queued, Action? done)
    {
        switch (msg.CallCommand)
        {
            case "execute" when !string.IsNullOrEmpty(msg.AppName):
                {
                    if (ch.IsHungUp) { done?.Invoke(); return; }
                    var arg = ExpandVars(ch, msg.AppArg);
                    var appUuid = string.IsNullOrEmpty(msg.EventUuid) ? NewUuid() : msg.EventUuid;
                    if (queued && ch.Apps.Any(a => a.EventLock))
                    {
                        ch.AppQueue.Enqueue(new QueuedApp(msg.AppName, arg, appUuid, msg.EventUuidName, msg.EventLock, msg));
                        return;
                    }
                    ExecuteApp(ch, msg.AppName, arg, appUuid, msg.EventUuidName, msg.EventLock, msg);
                    var frame = ch.Apps.LastOrDefault(f => f.AppUuid == appUuid);
                    if (frame != null)
                    {
                        frame.Queued = queued;
                        if (done != null) frame.OnComplete += done;
                    }
                    else done?.Invoke();
                    return;
                }
            case "hangup":
                Hangup(ch, HangupCauses.Normalize(msg.HangupCause));
                done?.Invoke();
                if (queued) FirePrivateCommand(ch, msg);
                return;
            default:
                done?.Invoke();
                if (queued && !ch.IsHungUp) FirePrivateCommand(ch, msg);
                return;
        }
    }

    private static string? ExpandVars(Channel ch, string? text)
    {
        if (text == null || !text.Contains("${", StringComparison.Ordinal) || ch.Vars.Get("app_disable_expand_variables") != null)
            return text;
        var sb = new System.Text.StringBuilder();
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                var end = text.IndexOf('}', i + 2);
                if (end > 0)
                {
                    var name = text[(i + 2)..end];
                    sb.Append(name == "uuid" ? ch.Uuid : ch.Vars.Get(name) ?? "");
                    i = end + 1;
                    continue;
                }
            }
            sb.Append(text[i++]);
        }
        return sb.ToString();
    }
}
