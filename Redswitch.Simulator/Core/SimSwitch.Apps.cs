using System.Globalization;
using Redswitch.Simulator.Dial;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Core;

public sealed partial class SimSwitch
{
    // ------------------------------------------------------------------ bridge

    private void StartBridge(Channel a, AppFrame frame, string data)
    {
        var target = DialString.Parse(data);
        int timeout = 60;
        if (int.TryParse(a.Vars.Get("call_timeout"), out var ct) && ct > 0) timeout = ct;
        DialAttempt? attempt = null;
        attempt = new DialAttempt
        {
            Target = target,
            Originator = a,
            TimeoutSeconds = timeout,
            Done = (b, cause) =>
            {
                if (frame.Completed || a.IsHungUp)
                {
                    if (b != null) Hangup(b, "ORIGINATOR_CANCEL");
                    return;
                }
                if (b == null)
                {
                    var legs = string.Join("|", attempt!.Causes.Select(c => c.Split(';')[0] + ";Outbound Call"));
                    if (attempt.Causes.Count > 0)
                    {
                        a.Vars.Set("originate_signal_bond", attempt.Causes[0].Split(';')[0]);
                        a.Vars.Set("originated_legs", legs);
                    }
                    a.Vars.Set("last_bridge_hangup_cause", cause);
                    a.Vars.Set("originate_disposition", cause);
                    a.Vars.Set("DIALSTATUS", DialStatus(cause));
                    if (attempt.Causes.Count > 0) a.Vars.Set("originate_causes", string.Join("|", attempt.Causes));
                    a.Vars.Set("originate_failed_cause", cause);
                    var continueOnFail = a.Vars.Get("continue_on_fail");
                    bool keep = cause is "NO_ANSWER" or "NO_USER_RESPONSE" or "ORIGINATOR_CANCEL"
                        || string.Equals(continueOnFail, "true", StringComparison.OrdinalIgnoreCase)
                        || (continueOnFail != null && continueOnFail.Split(',').Contains(cause, StringComparer.OrdinalIgnoreCase));
                    if (keep) CompleteApp(a, frame);
                    else Hangup(a, cause);
                    return;
                }
                a.Vars.Set("originated_legs", $"{b.Uuid};{b.CallerIdName};{b.Number}");
                a.Vars.Set("originate_disposition", "SUCCESS");
                a.Vars.Set("DIALSTATUS", "SUCCESS");
                a.Vars.Set("originate_causes", $"{b.Uuid};NONE");
                a.Vars.Set("signal_bond", b.Uuid);
                b.Vars.Set("endpoint_disposition", "ANSWER");
                if (!a.IsAnswered) Answer(a);
                Bridge(a, b, frame);
            },
        };
        frame.OnHangup = () =>
        {
            if (!attempt.Finished)
            {
                attempt.Finished = true;
                foreach (var r in attempt.Ringing.ToArray())
                {
                    r.OnFailedBeforeAnswer = null;
                    r.OnAnsweredByPhone = null;
                    Hangup(r, "ORIGINATOR_CANCEL");
                }
            }
        };
        Dial(attempt);
    }

    private static string DialStatus(string cause) => cause switch
    {
        "USER_BUSY" => "BUSY",
        "NO_ANSWER" or "NO_USER_RESPONSE" => "NOANSWER",
        "CALL_REJECTED" => "CALL_REJECTED",
        "ORIGINATOR_CANCEL" => "CANCEL",
        _ => cause,
    };

    private void Bridge(Channel a, Channel b, AppFrame? frame)
    {
        var now = NowMicros();
        a.BridgedTo = b;
        b.BridgedTo = a;
        a.BridgeInitiator = true;
        b.BridgeInitiator = false;
        a.OtherType = "originatee";
        a.OtherLeg = b;
        a.OtherLegZeroTimes = false;
        if (b.OtherType == null) { b.OtherType = "originator"; b.OtherLeg = a; b.OtherLegZeroTimes = true; }
        a.BridgedTime = now;
        b.BridgedTime = now;
        SetState(b, "CS_EXCHANGE_MEDIA", 5);
        a.BridgeFrame = frame;
        a.CalleeIdName = b.CalleeIdName;
        a.CalleeIdNumber = b.CalleeIdNumber;
        FireChannel(a, "CHANNEL_BRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689, withVars: true,
            before: [new("Bridge-A-Unique-ID", a.Uuid), new("Bridge-B-Unique-ID", b.Uuid)]);
        a.Vars.Set("last_bridge_to", b.Uuid);
        a.Vars.Set("bridge_channel", b.Name);
        a.Vars.Set("bridge_uuid", b.Uuid);
        a.Vars.Set("last_sent_callee_id_name", b.CalleeIdName);
        a.Vars.Set("last_sent_callee_id_number", b.CalleeIdNumber);
        a.CalleeIdName = b.CalleeIdName;
        a.CalleeIdNumber = b.CalleeIdNumber;
        b.Vars.Set("last_bridge_to", a.Uuid);
        b.Vars.Set("bridge_channel", a.Name);
        b.Vars.Set("bridge_uuid", a.Uuid);
        b.Vars.Set("last_sent_callee_id_name", a.CallerIdName);
        b.Vars.Set("last_sent_callee_id_number", a.CallerIdNumber);
    }

    /// <summary>Ends A's bridge: CHANNEL_UNBRIDGE on A, then the bridge application returns.</summary>
    private void EndBridge(Channel a, string cause)
    {
        var b = a.BridgedTo;
        if (b == null) return;
        a.BridgedTo = null;
        b.BridgedTo = null;
        a.Vars.Remove("bridge_to");
        b.Vars.Remove("bridge_to");
        a.Vars.Set("bridge_hangup_cause", cause);
        FireChannel(a, "CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879, withVars: true,
            before: [new("Bridge-A-Unique-ID", a.Uuid), new("Bridge-B-Unique-ID", b.Uuid)]);
        var frame = a.BridgeFrame;
        a.BridgeFrame = null;
        if (frame != null)
        {
            CompleteApp(a, frame);
        }
        if (a.IsHungUp) return;
        if (string.Equals(a.Vars.Get("hangup_after_bridge"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Hangup(a, "NORMAL_CLEARING");
            return;
        }
        if (frame == null && !string.Equals(a.Vars.Get("park_after_bridge"), "true", StringComparison.OrdinalIgnoreCase))
        {
            // uuid_bridge: nothing to return to
            Hangup(a, "NORMAL_CLEARING");
        }
    }

    /// <summary>uuid_bridge: bridges two existing channels (first = A side).</summary>
    internal bool UuidBridge(Channel a, Channel b)
    {
        if (a.IsHungUp || b.IsHungUp) return false;
        if (!a.IsAnswered && !b.IsAnswered && a.ProgressMediaTime == 0 && b.ProgressMediaTime == 0) return false;
        Post(() =>
        {
            if (a.IsHungUp || b.IsHungUp) return;
            if (a.BridgedTo != null) EndBridgeSilently(a);
            if (b.BridgedTo != null) EndBridgeSilently(b);
            if (!a.IsAnswered) Answer(a);
            if (!b.IsAnswered) Answer(b);
            Bridge(a, b, null);
        });
        return true;
    }

    private void EndBridgeSilently(Channel x)
    {
        var initiator = x.BridgeInitiator ? x : x.BridgedTo!;
        var frame = initiator.BridgeFrame;
        initiator.BridgeFrame = null;
        var other = initiator.BridgedTo!;
        initiator.BridgedTo = null;
        other.BridgedTo = null;
        FireChannel(initiator, "CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879, withVars: true,
            before: [new("Bridge-A-Unique-ID", initiator.Uuid), new("Bridge-B-Unique-ID", other.Uuid)]);
        if (frame != null) CompleteApp(initiator, frame);
    }

    // ------------------------------------------------------------------ eavesdrop

    private void StartEavesdrop(Channel ch, AppFrame frame, string target)
    {
        var t = FindChannel(target);
        if (t == null || t.IsHungUp || t == ch)
        {
            CompleteApp(ch, frame);
            return;
        }
        ch.EavesdropTarget = t.Uuid;
        ch.EavesdropMode = InitialEavesdropMode(ch);
        ch.EavesdropFrame = frame;
        t.Eavesdroppers.Add(ch);
        ch.Vars.Set("last_sent_callee_id_name", t.CallerIdName);
        ch.Vars.Set("last_sent_callee_id_number", t.CallerIdNumber);
        frame.OnHangup = () => { t.Eavesdroppers.Remove(ch); ch.EavesdropTarget = null; ch.EavesdropMode = null; ch.EavesdropFrame = null; };
    }

    private static string InitialEavesdropMode(Channel ch)
    {
        bool r = string.Equals(ch.Vars.Get("eavesdrop_whisper_aleg"), "true", StringComparison.OrdinalIgnoreCase);
        bool w = string.Equals(ch.Vars.Get("eavesdrop_whisper_bleg"), "true", StringComparison.OrdinalIgnoreCase);
        return ModeName(r, w);
    }

    /// <summary>esl-protocol.md §7.2: MUX_READ → the other party hears; MUX_WRITE → the target's party hears.</summary>
    internal static string ModeName(bool muxRead, bool muxWrite) => (muxRead, muxWrite) switch
    {
        (false, false) => "listen",
        (true, false) => "other",
        (false, true) => "target",
        _ => "both",
    };

    private void EndEavesdrop(Channel ch)
    {
        if (ch.EavesdropTarget is { } tu && FindChannel(tu) is { } target) target.Eavesdroppers.Remove(ch);
        var frame = ch.EavesdropFrame;
        ch.EavesdropTarget = null;
        ch.EavesdropMode = null;
        ch.EavesdropFrame = null;
        if (frame != null) CompleteApp(ch, frame);
    }

    /// <summary>A DTMF digit reaching an eavesdropping channel (digits 0-3 change the mode, * ends it).</summary>
    internal void EavesdropDigit(Channel ch, char digit)
    {
        if (ch.EavesdropFrame == null) return;
        if (string.Equals(ch.Vars.Get("eavesdrop_enable_dtmf"), "false", StringComparison.OrdinalIgnoreCase)) return;
        switch (digit)
        {
            case '0': ch.EavesdropMode = ModeName(false, false); break;
            case '1': ch.EavesdropMode = ModeName(true, false); break;
            case '2': ch.EavesdropMode = ModeName(false, true); break;
            case '3': ch.EavesdropMode = ModeName(true, true); break;
            case '*': EndEavesdrop(ch); break;
        }
    }

    // ------------------------------------------------------------------ DTMF

    /// <summary>uuid_recv_dtmf: each digit fires DTMF on the channel (DTMF-Source APP) and reaches its application.</summary>
    internal void ReceiveDtmf(Channel ch, string spec, string source = "APP")
    {
        var s = spec.StartsWith('~') ? spec[1..] : spec;
        var digits = new List<(char, int)>();
        foreach (var seg in s.Split('+'))
        {
            var at = seg.IndexOf('@');
            var ds = at >= 0 ? seg[..at] : seg;
            int dur = 2000;
            if (at >= 0 && int.TryParse(seg[(at + 1)..], out var ms) && ms > 0) dur = ms * 8;
            foreach (var c in ds)
                if (char.IsDigit(c) || c is '*' or '#' || (char.ToUpperInvariant(c) is >= 'A' and <= 'D') || c is 'w' or 'W' or 'F' or 'f')
                    if (c is not ('w' or 'W')) digits.Add((char.ToUpperInvariant(c), dur));
        }
        Post(() =>
        {
            foreach (var (d, dur) in digits)
            {
                if (ch.IsHungUp) return;
                ch.DigitsDialed += d;
                FireChannel(ch, "DTMF", "switch_channel.c", "switch_channel_dequeue_dtmf", 678, withVars: false,
                    after: [new("DTMF-Digit", d.ToString()), new("DTMF-Duration", dur.ToString(CultureInfo.InvariantCulture)), new("DTMF-Source", source)]);
                EavesdropDigit(ch, d);
            }
        });
    }

    // ------------------------------------------------------------------ socket (outbound ESL)

    private void StartSocket(Channel ch, AppFrame frame, string data)
    {
        var tokens = data.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 0 || Connector == null) { CompleteApp(ch, frame); return; }
        bool async = tokens.Skip(1).Any(t => t.Equals("async", StringComparison.OrdinalIgnoreCase));
        bool full = tokens.Skip(1).Any(t => t.Equals("full", StringComparison.OrdinalIgnoreCase));
        var hosts = tokens[0].Split('|', StringSplitOptions.RemoveEmptyEntries);
        frame.IsSocketPark = async;
        TryHost(ch, frame, hosts, 0, async, full);
    }

    private void TryHost(Channel ch, AppFrame frame, string[] hosts, int i, bool async, bool full)
    {
        if (frame.Completed || ch.IsHungUp) return;
        if (i >= hosts.Length)
        {
            // nothing reachable: the app returns and the dialplan goes on (here: nothing left, so the leg hangs up)
            CompleteApp(ch, frame);
            return;
        }
        var spec = hosts[i];
        string? path = null;
        var slash = spec.IndexOf('/');
        if (slash >= 0) { path = spec[(slash + 1)..]; spec = spec[..slash]; }
        var colon = spec.LastIndexOf(':');
        var host = colon >= 0 ? spec[..colon] : spec;
        int port = 8084;
        if (colon >= 0 && int.TryParse(spec[(colon + 1)..], out var p)) port = p;
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        ch.Vars.Set("socket_host", host);
        if (path != null) ch.Vars.Set("socket_path", path);
        Connector!.Connect(host, port,
            transport =>
            {
                var s = new EslSession(this, transport, outbound: true, bound: ch, async: async, full: full);
                _sessions.Add(s);
                if (frame.Completed || ch.IsHungUp)
                {
                    s.Start();
                    s.OnBoundChannelDone();
                    return s;
                }
                ch.Sessions.Add(s);
                frame.SocketSession = s;
                s.Start();
                return s;
            },
            () => Post(() => TryHost(ch, frame, hosts, i + 1, async, full)));
    }

    /// <summary>The outbound controller sent <c>connect</c>: an async socket parks the channel shortly after.</summary>
    internal void OnSocketConnect(Channel ch, EslSession s)
    {
        var frame = ch.Apps.FirstOrDefault(f => f.SocketSession == s);
        if (frame == null || !frame.IsSocketPark || frame.ParkScheduled) return;
        frame.ParkScheduled = true;
        Schedule(TimeSpan.FromMilliseconds(20), () =>
        {
            if (frame.Completed || ch.IsHungUp || frame.ListenerGone) return;
            frame.Parked = true;
            FireChannel(ch, "CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1002, withVars: true);
        });
    }

    /// <summary>An ESL session bound to <paramref name="ch"/> went away (exit, close, timeout).</summary>
    internal void OnSessionGone(Channel ch, EslSession s)
    {
        ch.Sessions.Remove(s);
        _sessions.Remove(s);
        var frame = ch.Apps.FirstOrDefault(f => f.SocketSession == s);
        if (frame == null || frame.Completed || ch.IsHungUp) return;
        frame.ListenerGone = true;
        if (frame.IsSocketPark && !frame.ParkScheduled)
        {
            // the listener ended before 'connect': the channel thread parks afterwards and stays parked with no
            // controller (esl-protocol.md §3.2, observed after the first-command timeout)
            frame.ParkScheduled = true;
            Schedule(TimeSpan.FromMilliseconds(20), () =>
            {
                if (frame.Completed || ch.IsHungUp) return;
                frame.Parked = true;
                FireChannel(ch, "CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1002, withVars: true);
            });
            return;
        }
        // a running application (e.g. bridge) keeps the call up; the socket app returns when it is the top one
        if (ch.Apps.Count > 0 && ch.Apps[^1] == frame) Post(() => { if (!frame.Completed && !ch.IsHungUp) CompleteApp(ch, frame); });
    }

    /// <summary>uuid_park: the leg leaves its bridge (the peer is hung up) and parks.</summary>
    private void UuidPark(Channel ch)
    {
        if (ch.IsHungUp) return;
        if (ch.BridgedTo is { } peer)
        {
            var initiator = ch.BridgeInitiator ? ch : peer;
            var other = initiator == ch ? peer : ch;
            // park_after_bridge semantics for the parked leg; the other leg loses its call
            ch.Vars.Set("park_after_bridge", "true");
            EndBridgeSilently(ch);
            if (other != ch && !other.IsHungUp && other.Apps.Count == 0) Hangup(other, "NORMAL_CLEARING");
        }
        ExecuteApp(ch, "park", null, NewUuid(), null, false, null);
    }

    internal string? GetVar(Channel ch, string name)
    {
        if (name == "eavesdrop_mode") return ch.EavesdropMode;
        if (name == "uuid") return ch.Uuid;
        return ch.Vars.Get(name);
    }
}
