using System.Globalization;
using System.Text;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator.Dial;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Core;

public sealed partial class SimSwitch
{
    /// <summary>Runs an API command; <paramref name="done"/> gets its output (core thread).</summary>
    internal void ExecuteApi(string cmd, string args, EslSession? caller, Action<string> done)
    {
        FireApiEvent(cmd, args);
        switch (cmd.ToLowerInvariant())
        {
            case "originate":
                {
                    var o = OriginateArgs.Parse(args);
                    if (o == null) { done(OriginateArgs.Usage); return; }
                    Originate(o, done);
                    return;
                }
            case "uuid_kill":
                {
                    var t = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length == 0) { done("-USAGE: <uuid> [cause]\n"); return; }
                    var ch = FindChannel(t[0]);
                    if (ch == null || ch.IsHungUp) { done("-ERR No such channel!\n"); return; }
                    Hangup(ch, t.Length > 1 ? HangupCauses.Normalize(t[1]) : "NORMAL_CLEARING");
                    done("+OK\n");
                    return;
                }
            case "uuid_exists":
                {
                    var u = args.Trim();
                    done(FindChannel(u) is { IsHungUp: false } ? "true" : "false");
                    return;
                }
            case "uuid_getvar":
                {
                    var t = args.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: <uuid> <var>\n"); return; }
                    var ch = FindChannel(t[0]);
                    if (ch == null) { done("-ERR No such channel!\n"); return; }
                    var v = GetVar(ch, t[1].Trim());
                    done(string.IsNullOrEmpty(v) ? "_undef_" : v);
                    return;
                }
            case "uuid_dump":
                {
                    // mod_commands: "<uuid> [format]"; a channel that is down cannot be located any more
                    var t = args.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length == 0) { done("-USAGE: <uuid> [format]\n"); return; }
                    var ch = FindChannel(t[0]);
                    if (ch == null || ch.IsHungUp) { done("-ERR No such channel!\n"); return; }
                    done(Dump(ch, t.Length > 1 ? t[1].Trim() : "txt"));
                    return;
                }
            case "uuid_setvar":
                {
                    var t = args.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: <uuid> <var> [value]\n"); return; }
                    var ch = FindChannel(t[0]);
                    if (ch == null) { done("-ERR No such channel!\n"); return; }
                    ch.Vars.Set(t[1], t.Length > 2 ? t[2].Replace("'", "", StringComparison.Ordinal) : null);
                    done("+OK\n");
                    return;
                }
            case "uuid_recv_dtmf":
                {
                    var t = args.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: <uuid> <dtmf_data>\n"); return; }
                    var ch = FindChannel(t[0]);
                    if (ch == null || ch.IsHungUp) { done("-ERR Cannot locate session!\n"); return; }
                    ReceiveDtmf(ch, t[1].Trim());
                    done($"+OK {ch.Uuid} received DTMF {t[1].Trim()}.\n");
                    return;
                }
            case "uuid_send_dtmf":
                {
                    var t = args.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: <uuid> <dtmf_data>\n"); return; }
                    var ch = FindChannel(t[0]);
                    done(ch == null ? "-ERR Cannot locate session!\n" : $"+OK {ch.Uuid} sent DTMF {t[1].Trim()}.\n");
                    return;
                }
            case "uuid_bridge":
                {
                    var t = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: <uuid> <other_uuid>\n"); return; }
                    var a = FindChannel(t[0]);
                    var b = FindChannel(t[1]);
                    if (a == null || b == null || !UuidBridge(a, b)) { done("-ERR Invalid uuid\n"); return; }
                    done($"+OK {a.Uuid}\n");
                    return;
                }
            case "uuid_answer":
                {
                    var ch = FindChannel(args.Trim());
                    if (ch == null || ch.IsHungUp) { done("-ERROR\n"); return; }
                    Answer(ch);
                    done("+OK\n");
                    return;
                }
            case "uuid_park":
                {
                    var ch = FindChannel(args.Trim());
                    if (ch == null || ch.IsHungUp) { done("-ERR No such channel!\n"); return; }
                    Post(() => UuidPark(ch));
                    done("+OK\n");
                    return;
                }
            case "sched_hangup":
                {
                    var t = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (t.Length < 2) { done("-USAGE: [+]<time> <uuid> [<cause>]\n"); return; }
                    var ch = FindChannel(t[1]);
                    if (ch == null || ch.IsHungUp) { done("-ERR No such channel!\n"); return; }
                    var cause = t.Length > 2 ? HangupCauses.Normalize(t[2]) : "ALLOTTED_TIMEOUT";
                    var spec = t[0];
                    long.TryParse(spec.TrimStart('+'), NumberStyles.None, CultureInfo.InvariantCulture, out var n);
                    TimeSpan delay;
                    // FS's zero check skips the first character: "+0", "0" and any single-digit time hang up at once
                    if (spec.Length <= 1 || spec[1..].All(c => c == '0')) delay = TimeSpan.Zero;
                    else if (spec.StartsWith('+')) delay = TimeSpan.FromSeconds(n);
                    else delay = DateTimeOffset.FromUnixTimeSeconds(n) - DateTimeOffset.UtcNow;
                    Schedule(delay, () => { if (!ch.IsHungUp) Hangup(ch, cause); });
                    done("+OK\n");
                    return;
                }
            case "uuid_broadcast":
                {
                    var t = args.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
                    var ch = t.Length >= 2 ? FindChannel(t[0]) : null;
                    if (ch == null || ch.IsHungUp) { done("-ERR invalid uuid\n"); return; }
                    var what = t[1];
                    var sep = what.IndexOf("::", StringComparison.Ordinal);
                    var (app, data) = sep >= 0 ? (what[..sep], what[(sep + 2)..]) : ("playback", what);
                    Post(() => ExecuteApp(ch, app, data.Length == 0 ? null : data, NewUuid(), null, false, null));
                    done("+OK Message sent\n");
                    return;
                }
            case "hupall":
                {
                    var t = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var cause = t.Length > 0 ? HangupCauses.Normalize(t[0]) : "NORMAL_CLEARING";
                    string? var = t.Length > 1 ? t[1] : null, val = t.Length > 2 ? t[2] : null;
                    foreach (var ch in _channels.Values.ToArray())
                    {
                        if (ch.IsHungUp) continue;
                        if (var != null && ch.Vars.Get(var) != val) continue;
                        Hangup(ch, cause);
                    }
                    done($"+OK hangup all channels with cause {cause}\n");
                    return;
                }
            case "show":
                done(Show(args.Trim()));
                return;
            case "status":
                done(Status());
                return;
            case "uptime":
                {
                    // mod_commands uptime_function: the uptime in the unit asked for (seconds by default), with a newline
                    var up = DateTime.UtcNow - _startedUtc;
                    long? value = args.Trim().ToLowerInvariant() switch
                    {
                        "" or "s" or "seconds" => (long)up.TotalSeconds,
                        "us" or "microseconds" => up.Ticks / 10,
                        "ms" or "milliseconds" => (long)up.TotalMilliseconds,
                        "m" or "minutes" => (long)up.TotalMinutes,
                        "h" or "hours" => (long)up.TotalHours,
                        "d" or "days" => (long)up.TotalDays,
                        _ => null,
                    };
                    done(value is { } v
                        ? v.ToString(CultureInfo.InvariantCulture) + "\n"
                        : "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n");
                    return;
                }
            case "global_getvar":
                // FreeSWITCH sets core_uuid at start-up (its Core-UUID header); the value comes without a newline.
                done(args.Trim() == "core_uuid" ? _coreUuid : "");
                return;
            case "version":
                done("FreeSWITCH Version 1.11.3-dev+redswitch-simulator (redswitch-simulator)\n");
                return;
            case "bgapi":
                {
                    var jobUuid = NewUuid();
                    done("+OK Job-UUID: " + jobUuid + "\n");
                    var owner = caller?.Bound?.Uuid;
                    Post(() => RunBackgroundJob(args, jobUuid, owner, caller));
                    return;
                }
            default:
                done($"-ERR {cmd} Command not found!\n");
                return;
        }
    }

    /// <summary>
    /// uuid_dump's output: a CHANNEL_DATA event made for the channel (standard headers, channel data, every
    /// variable) serialised without being fired: URL-encoded <c>Name: value</c> lines and an empty line by default,
    /// one JSON object for <c>json</c>, the event XML for <c>xml</c>, and for <c>plain</c> FreeSWITCH's raw
    /// <c>Name: [value]</c> lines.
    /// </summary>
    internal string Dump(Channel ch, string format)
    {
        var h = StandardHeaders("CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", 6495);
        ch.AddChannelData(h, withVars: true);
        if (format.Equals("plain", StringComparison.OrdinalIgnoreCase))
        {
            var sb = new StringBuilder();
            foreach (var (name, value) in h) sb.Append(name).Append(": [").Append(value).Append("]\n");
            return sb.Append('\n').ToString();
        }
        var kind = format.ToLowerInvariant() switch
        {
            "json" => EslEventFormat.Json,
            "xml" => EslEventFormat.Xml,
            _ => EslEventFormat.Plain,
        };
        return EslEvent.Create(kind, h).BodyText;
    }

    private void FireApiEvent(string cmd, string args)
    {
        var h = StandardHeaders("API", "switch_loadable_module.c", "switch_api_execute", 2949);
        h.Add(new("API-Command", cmd));
        if (args.Length > 0) h.Add(new("API-Command-Argument", args));
        Publish(new SimEvent("API", h, null));
    }

    /// <summary>bgapi's thread: runs the command and fires BACKGROUND_JOB (body = output; empty output = no body).</summary>
    internal void RunBackgroundJob(string line, string jobUuid, string? ownerUuid, EslSession? caller)
    {
        var sp = line.IndexOf(' ');
        var cmd = sp < 0 ? line : line[..sp];
        var args = sp < 0 ? "" : line[(sp + 1)..];
        ExecuteApi(cmd, args, caller, output =>
        {
            var h = StandardHeaders("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1580);
            h.Add(new("Job-UUID", jobUuid));
            if (!string.IsNullOrEmpty(ownerUuid)) h.Add(new("Job-Owner-UUID", ownerUuid));
            h.Add(new("Job-Command", cmd));
            if (args.Length > 0) h.Add(new("Job-Command-Arg", args));
            Publish(new SimEvent("BACKGROUND_JOB", h, output.Length == 0 ? null : output));
        });
    }

    private string Status()
    {
        var up = DateTime.UtcNow - _startedUtc;
        var sb = new StringBuilder();
        sb.Append("UP ").Append(UpTimeText(up)).Append('\n');
        sb.Append("FreeSWITCH (Version 1.11.3-dev  64bit) is ready\n");
        sb.Append(CultureInfo.InvariantCulture, $"{SessionsSinceStartup} session(s) since startup\n");
        sb.Append(CultureInfo.InvariantCulture, $"{_live} session(s) - peak {_peak}, last 5min {_peak} \n");
        sb.Append("0 session(s) per Sec out of max 30000, peak 0, last 5min 0 \n");
        sb.Append("1000000 session(s) max\n");
        sb.Append("min idle cpu 0.00/99.00\n");
        sb.Append("Current Stack Size/Max 240K/8192K\n");
        return sb.ToString();
    }

    private const string ChannelColumns =
        "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context";

    private string Show(string what)
    {
        var parts = what.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !parts[0].Equals("channels", StringComparison.OrdinalIgnoreCase))
            return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n";
        var live = _channels.Values.Where(c => !c.IsHungUp).OrderBy(c => c.CreatedTime).ToList();
        if (parts.Length > 1 && parts[1].Equals("count", StringComparison.OrdinalIgnoreCase))
            return $"\n{live.Count} total.\n";
        if (live.Count == 0) return "\n0 total.\n";
        var sb = new StringBuilder();
        sb.Append(ChannelColumns).Append('\n');
        foreach (var c in live)
        {
            var created = DateTime.UnixEpoch.AddTicks(c.CreatedTime * 10).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            var app = c.Apps.Count > 0 ? c.Apps[^1] : null;
            string[] row =
            [
                c.Uuid, c.Direction, created, (c.CreatedTime / 1_000_000).ToString(CultureInfo.InvariantCulture), c.Name,
                c.RunningState, c.CallerIdName ?? "", c.CallerIdNumber ?? "", "", c.Number, app?.Name ?? "", app?.Data ?? "",
                "XML", c.Context ?? "", "L16", "8000", "128000", "L16", "8000", "128000", "", Options.Hostname, "", "", "",
                c.IsAnswered ? "ACTIVE" : c.CallState, c.CalleeIdName ?? "", c.CalleeIdNumber ?? "", "",
                c.Vars.Get("call_uuid") ?? c.Uuid, "", "", c.CallerIdName ?? "", c.CallerIdNumber ?? "", "", c.Number, "XML", c.Context ?? "",
            ];
            sb.Append(string.Join(',', row.Select(x => x.Replace(",", " ", StringComparison.Ordinal)))).Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"\n{live.Count} total.\n");
        return sb.ToString();
    }
}
