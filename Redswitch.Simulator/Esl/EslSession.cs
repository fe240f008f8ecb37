using System.Globalization;
using Redswitch.Simulator.Core;

namespace Redswitch.Simulator.Esl;

/// <summary>
/// One ESL connection, inbound (a controller connected to us) or outbound (we connected for a <c>socket</c> app).
/// Mirrors mod_event_socket's listener: commands are handled one at a time, replies in order, and events are
/// held while a command runs and written after its reply. Runs on the switch's core thread only.
/// </summary>
public sealed class EslSession
{
    private readonly SimSwitch _sw;
    private readonly IEslTransport _t;
    private readonly Queue<EslRequest> _commands = new();
    private readonly List<Action> _held = new();
    private bool _busy;
    private bool _closed;
    private bool _authed;
    private bool _firstCommandSeen;
    private ITimerHandle? _firstCommandTimer;
    private ITimerHandle? _lingerTimer;

    internal EslSession(SimSwitch sw, IEslTransport transport, bool outbound, Channel? bound, bool async, bool full)
    {
        _sw = sw;
        _t = transport;
        Outbound = outbound;
        Bound = bound;
        Async = async;
        Full = full;
        _authed = outbound;
    }

    public bool Outbound { get; }
    public bool Async { get; }
    public bool Full { get; }
    public Channel? Bound { get; private set; }
    public bool Closed => _closed;
    internal bool Linger { get; private set; }
    internal int LingerSeconds { get; private set; } = -1;
    internal bool LingerNoticeSent { get; private set; }
    internal bool DivertEvents { get; private set; }

    // subscriptions
    internal bool EventsEnabled { get; private set; }
    internal bool AllEvents { get; private set; }
    internal readonly HashSet<string> EventNamesSubscribed = new(StringComparer.OrdinalIgnoreCase);
    internal readonly HashSet<string> Subclasses = new(StringComparer.OrdinalIgnoreCase);
    internal bool AllCustom { get; private set; }
    internal EventFormat Format { get; private set; } = EventFormat.Plain;
    internal readonly FilterSet Filters = new();
    /// <summary>myevents restriction: only events whose Unique-ID (or BACKGROUND_JOB Job-Owner-UUID) is this.</summary>
    internal string? MyEventsUuid { get; private set; }
    internal bool MyEventsDone { get; private set; }

    internal void Start()
    {
        if (!Outbound) _t.AuthRequest();
        _firstCommandTimer = _sw.Schedule(_sw.Options.FirstCommandTimeout, () =>
        {
            if (_firstCommandSeen || _closed) return;
            SendGoodbyeAndClose();
        });
    }

    /// <summary>Called when the peer closed the connection (or it failed).</summary>
    internal void OnTransportClosed()
    {
        if (_closed) return;
        _closed = true;
        Cleanup();
    }

    private void Cleanup()
    {
        _firstCommandTimer?.Cancel();
        _lingerTimer?.Cancel();
        _held.Clear();
        _commands.Clear();
        _sw.Bus.Remove(this);
        if (Bound != null) _sw.OnSessionGone(Bound, this);
    }

    private void SendGoodbyeAndClose()
    {
        if (_closed) return;
        _t.Goodbye(Bound != null && (Outbound || MyEventsUuid != null) ? Bound.Uuid : null);
        _t.Close();
        _closed = true;
        Cleanup();
    }

    /// <summary>Closes as a network fault would: no notice, nothing more written.</summary>
    internal void BreakConnection()
    {
        if (_closed) return;
        _closed = true;
        _t.Close();
        Cleanup();
    }

    // ---- outgoing, with hold while a command runs ----

    private void Emit(Action write)
    {
        if (_closed) return;
        if (_busy) _held.Add(write);
        else write();
    }

    internal void Deliver(SimEvent ev)
    {
        if (_closed || !EventsEnabled) return;
        if (!Accepts(ev)) return;
        var fmt = Format;
        Emit(() => _t.Event(ev, fmt));
    }

    /// <summary>Subscription, filter and myevents checks (esl-protocol.md §2.3-§2.5).</summary>
    internal bool Accepts(SimEvent ev)
    {
        if (!AllEvents)
        {
            if (!EventNamesSubscribed.Contains(ev.Name)) return false;
            if (ev.Name == "CUSTOM" && !AllCustom)
            {
                var sub = ev.Get("Event-Subclass");
                if (sub == null || !Subclasses.Contains(sub)) return false;
            }
        }
        if (!Filters.Passes(ev)) return false;
        if (MyEventsUuid != null)
        {
            var uid = ev.UniqueId;
            if (uid != MyEventsUuid && !(ev.Name == "BACKGROUND_JOB" && ev.Get("Job-Owner-UUID") == MyEventsUuid)) return false;
        }
        // the session is destroyed only after a bound listener lets go: its destroy events never reach it
        if (Bound != null && ev.UniqueId == Bound.Uuid
            && (ev.Name == "CHANNEL_DESTROY" || (ev.Name == "CHANNEL_STATE" && ev.Get("Channel-State") == "CS_DESTROY"))) return false;
        return true;
    }

    /// <summary>Called by the switch when the bound channel has reached CHANNEL_HANGUP_COMPLETE.</summary>
    internal void OnBoundChannelDone()
    {
        if (_closed) return;
        if (Linger)
        {
            if (LingerNoticeSent) return;
            LingerNoticeSent = true;
            var ch = Bound!;
            var secs = LingerSeconds;
            Emit(() => _t.Linger(ch.Uuid, ch.Name, secs));
            if (secs > 0)
                _lingerTimer = _sw.Schedule(TimeSpan.FromSeconds(secs), () => Emit(SendGoodbyeAndClose));
        }
        else
        {
            Emit(SendGoodbyeAndClose);
        }
    }

    // ---- incoming ----

    internal void Receive(EslRequest req)
    {
        if (_closed) return;
        _commands.Enqueue(req);
        if (!_busy) ProcessNext();
    }

    private void ProcessNext()
    {
        while (!_busy && !_closed && _commands.Count > 0)
        {
            var req = _commands.Dequeue();
            _busy = true;
            bool dropReply = Outbound && !_firstCommandSeen && !IsVerb(req.Line.TrimStart(), "connect");
            _firstCommandSeen = true;
            _firstCommandTimer?.Cancel();
            var done = false;
            Action finish = null!;
            finish = () =>
            {
                if (done) return;
                done = true;
                _busy = false;
                var held = _held.ToArray();
                _held.Clear();
                foreach (var w in held)
                {
                    if (_closed) break;
                    w();
                }
                if (!_busy) _sw.Post(ProcessNext);
            };
            try
            {
                Handle(req, dropReply, finish);
            }
            catch (Exception e)
            {
                // a simulator bug must not wedge the connection: answer like a failed command and go on
                try { _sw.Options.Log?.Invoke($"simulator error on '{req.Line}' from {_t.Peer}: {e}"); } catch (Exception) { }
                if (!done && !_closed && !dropReply) _t.Reply("-ERR " + e.GetType().Name);
                finish();
            }
        }
    }

    private static bool IsVerb(string line, string verb) => line.StartsWith(verb, StringComparison.OrdinalIgnoreCase);

    private static string ArgsAfterFirstSpace(string line)
    {
        var sp = line.IndexOf(' ');
        return sp < 0 ? "" : line[(sp + 1)..];
    }

    private static readonly HashSet<string> GateAllowed = new(StringComparer.OrdinalIgnoreCase)
    {
        "connect", "myevents", "getvar", "filter", "resume", "divert_events", "sendmsg", "exit", "...",
    };

    private void Handle(EslRequest req, bool dropReply, Action done)
    {
        var line = req.Line.TrimStart('\r', '\n').TrimEnd('\r');
        void Reply(string text, IReadOnlyList<KeyValuePair<string, string>>? extra = null)
        {
            if (!dropReply && !_closed) _t.Reply(text.Length == 0 ? "-ERR command not found" : TruncateReply(text), extra);
        }
        void ReplyDone(string text) { Reply(text); done(); }

        var faultDropsReply = false;
        if (_sw.CommandFaults?.Invoke(line) is { } fault)
        {
            switch (fault.Kind)
            {
                case CommandFaultKind.DropBeforeRunning:
                    BreakConnection();
                    done();
                    return;
                case CommandFaultKind.Reply:
                    if (IsVerb(line, "api ")) _t.Api(fault.ReplyText ?? "");
                    else Reply(fault.ReplyText ?? "");
                    done();
                    return;
                case CommandFaultKind.DropInsteadOfReply:
                    dropReply = faultDropsReply = true;
                    var inner = done;
                    done = () =>
                    {
                        inner();
                        BreakConnection();
                    };
                    break;
            }
        }

        if (!_authed)
        {
            if (IsVerb(line, "auth "))
            {
                var pw = line[5..];
                if (pw == _sw.Options.Password)
                {
                    _authed = true;
                    ReplyDone("+OK accepted");
                }
                else
                {
                    Reply("-ERR invalid");
                    SendGoodbyeAndClose();
                    done();
                }
                return;
            }
            if (IsVerb(line, "userauth"))
            {
                Reply("-ERR invalid");
                SendGoodbyeAndClose();
                done();
                return;
            }
            if (IsVerb(line, "exit") || IsVerb(line, "..."))
            {
                Reply("+OK bye");
                SendGoodbyeAndClose();
                done();
                return;
            }
            ReplyDone("-ERR command not found");
            return;
        }

        if (line.Contains("mod_event_socket", StringComparison.OrdinalIgnoreCase)
            && (line.Contains("unload", StringComparison.OrdinalIgnoreCase) || line.Contains("reload", StringComparison.OrdinalIgnoreCase)))
            line = "api bgapi " + (line.Contains("unload", StringComparison.OrdinalIgnoreCase) ? "unload" : "reload") + " mod_event_socket";

        var verb = line.Split(' ', 2)[0].ToLowerInvariant();
        if (Outbound && !Full)
        {
            var known = new[] { "connect", "myevents", "getvar", "filter", "resume", "divert_events", "sendmsg", "exit", "..." };
            if (!known.Any(k => IsVerb(line, k)))
            {
                ReplyDone("-ERR command not found");
                return;
            }
        }
        _ = verb;

        if (IsVerb(line, "exit") || IsVerb(line, "..."))
        {
            Reply("+OK bye");
            SendGoodbyeAndClose();
            done();
            return;
        }
        if (IsVerb(line, "connect"))
        {
            if (Bound == null) { ReplyDone("-ERR command not found"); return; }
            if (!dropReply && !_closed)
            {
                var h = _sw.ChannelDataHeaders(Bound);
                _t.ConnectReply(h, Async ? "async" : "static", Full ? "full" : "single-channel");
            }
            _sw.OnSocketConnect(Bound, this);
            done();
            return;
        }
        if (IsVerb(line, "getvar"))
        {
            if (Bound == null) { ReplyDone("-ERR command not found"); return; }
            var name = ArgsAfterFirstSpace(line).Trim();
            ReplyDone(_sw.GetVar(Bound, name) ?? "");
            return;
        }
        if (IsVerb(line, "myevents"))
        {
            HandleMyEvents(line, Reply);
            done();
            return;
        }
        if (IsVerb(line, "divert_events"))
        {
            var arg = ArgsAfterFirstSpace(line).Trim();
            if (Bound == null) ReplyDone("-ERR not controlling a session.");
            else if (arg.Length == 0) ReplyDone("-ERR missing value.");
            else
            {
                DivertEvents = arg.Equals("on", StringComparison.OrdinalIgnoreCase);
                ReplyDone(DivertEvents ? "+OK events diverted" : "+OK events not diverted");
            }
            return;
        }
        if (IsVerb(line, "filter"))
        {
            ReplyDone(HandleFilter(ArgsAfterFirstSpace(line)));
            return;
        }
        if (IsVerb(line, "sendevent"))
        {
            var id = _sw.SendEvent(ArgsAfterFirstSpace(line).Trim(), req);
            ReplyDone("+OK " + id);
            return;
        }
        if (IsVerb(line, "api "))
        {
            var rest = line[4..];
            var sp = rest.IndexOf(' ');
            var cmd = sp < 0 ? rest : rest[..sp];
            var args = sp < 0 ? "" : rest[(sp + 1)..];
            _sw.ExecuteApi(cmd, args, this, output =>
            {
                if (!_closed && !faultDropsReply) _t.Api(output.Length == 0 ? "-ERR no reply\n" : output);
                done();
            });
            return;
        }
        if (IsVerb(line, "bgapi "))
        {
            var rest = line[6..];
            var jobUuid = req.Header("Job-UUID");
            if (string.IsNullOrEmpty(jobUuid)) jobUuid = SimSwitch.NewUuid();
            else if (jobUuid.Length > 255) jobUuid = jobUuid[..255];
            Reply("+OK Job-UUID: " + jobUuid, [new("Job-UUID", jobUuid)]);
            var owner = Bound?.Uuid;
            _sw.Post(() => _sw.RunBackgroundJob(rest, jobUuid, owner, this));
            done();
            return;
        }
        if (IsVerb(line, "log"))
        {
            var arg = ArgsAfterFirstSpace(line).Trim();
            var level = LogLevel(arg);
            ReplyDone(level < 0 ? "-ERR invalid log level" : $"+OK log level {arg} [{level}]");
            return;
        }
        if (IsVerb(line, "linger"))
        {
            if (Bound == null) { ReplyDone("-ERR not controlling a session"); return; }
            var arg = ArgsAfterFirstSpace(line).Trim();
            Linger = true;
            if (arg.Length > 0 && int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var secs) && secs > 0)
            {
                LingerSeconds = secs;
                ReplyDone($"+OK will linger {secs} seconds");
            }
            else
            {
                LingerSeconds = -1;
                ReplyDone("+OK will linger");
            }
            return;
        }
        if (IsVerb(line, "nolinger"))
        {
            if (Bound == null) { ReplyDone("-ERR not controlling a session"); return; }
            Linger = false;
            ReplyDone("+OK will not linger");
            return;
        }
        if (IsVerb(line, "nolog"))
        {
            ReplyDone("-ERR not loging");
            return;
        }
        if (IsVerb(line, "event"))
        {
            ReplyDone(HandleEvent(ArgsAfterFirstSpace(line)));
            return;
        }
        if (IsVerb(line, "nixevent"))
        {
            var names = ArgsAfterFirstSpace(line).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            bool any = false;
            foreach (var n in names)
            {
                var name = NormalizeEventName(n);
                if (name == null) continue;
                any = true;
                if (name == "ALL") { AllEvents = false; EventNamesSubscribed.Clear(); }
                else if (AllEvents) { AllEvents = false; foreach (var e in EventNames.All) if (e != "ALL") EventNamesSubscribed.Add(e); EventNamesSubscribed.Remove(name); }
                else EventNamesSubscribed.Remove(name);
            }
            _sw.Bus.Update(this);
            ReplyDone(any ? "+OK events nixed" : "-ERR no keywords supplied");
            return;
        }
        if (IsVerb(line, "noevents"))
        {
            if (!EventsEnabled) { ReplyDone("-ERR not listening for events"); return; }
            EventsEnabled = false;
            AllEvents = false;
            AllCustom = false;
            EventNamesSubscribed.Clear();
            Subclasses.Clear();
            _held.Clear();
            _sw.Bus.Update(this);
            ReplyDone("+OK no longer listening for events");
            return;
        }
        if (IsVerb(line, "resume"))
        {
            if (Bound == null) { ReplyDone("-ERR command not found"); return; }
            Bound.Vars.Set("socket_resume", "true");
            ReplyDone("+OK");
            return;
        }
        if (IsVerb(line, "sendmsg"))
        {
            HandleSendMsg(line, req, dropReply, done);
            return;
        }
        ReplyDone("-ERR command not found");
    }

    private static string TruncateReply(string text) =>
        System.Text.Encoding.UTF8.GetByteCount(text) <= 511 ? text : text[..Math.Min(text.Length, 511)];

    private static int LogLevel(string arg)
    {
        if (arg.Length == 0) return 7;
        if (int.TryParse(arg, out var n) && n >= 0 && n <= 7) return n;
        return arg.ToLowerInvariant() switch
        {
            "console" => 0, "alert" => 1, "crit" => 2, "err" or "error" => 3, "warning" => 4, "notice" => 5,
            "info" => 6, "debug" => 7, _ => -1,
        };
    }

    private static string? NormalizeEventName(string token)
    {
        var t = token.Trim();
        if (t.StartsWith("SWITCH_EVENT_", StringComparison.OrdinalIgnoreCase)) t = t[13..];
        if (!EventNames.All.Contains(t)) return null;
        return t.ToUpperInvariant();
    }

    private string HandleEvent(string args)
    {
        var tokens = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int i = 0;
        var fmtWord = "plain";
        if (tokens.Length > 0)
        {
            var f = tokens[0].ToLowerInvariant();
            if (f is "plain" or "json" or "xml")
            {
                Format = f == "json" ? EventFormat.Json : f == "xml" ? EventFormat.Xml : EventFormat.Plain;
                i = 1;
            }
        }
        fmtWord = Format switch { EventFormat.Json => "json", EventFormat.Xml => "xml", _ => "plain" };
        bool any = false, custom = false;
        for (; i < tokens.Length; i++)
        {
            if (custom) { Subclasses.Add(tokens[i]); any = true; continue; }
            var name = NormalizeEventName(tokens[i]);
            if (name == null) continue;
            any = true;
            if (name == "ALL") { AllEvents = true; AllCustom = true; }
            else if (name == "CUSTOM") { custom = true; EventNamesSubscribed.Add(name); }
            else EventNamesSubscribed.Add(name);
        }
        if (custom && !Subclasses.Any()) AllCustom = true;
        if (!any) return "-ERR no keywords supplied";
        EventsEnabled = true;
        _sw.Bus.Update(this);
        return "+OK event listener enabled " + fmtWord;
    }

    private string HandleFilter(string args)
    {
        if (args.StartsWith("delete", StringComparison.OrdinalIgnoreCase))
        {
            var rest = args.Length > 6 ? args[6..].TrimStart(' ') : "";
            if (rest.Length == 0) return "-ERR invalid syntax";
            var sp = rest.IndexOf(' ');
            var header = sp < 0 ? rest : rest[..sp];
            var value = sp < 0 ? null : rest[(sp + 1)..];
            if (header.Equals("all", StringComparison.OrdinalIgnoreCase)) Filters.Clear();
            else Filters.Delete(header, value);
            _sw.Bus.Update(this);
            return $"+OK filter deleted. [{header}][{value ?? ""}]";
        }
        if (args.StartsWith("add ", StringComparison.OrdinalIgnoreCase)) args = args[4..];
        var s = args.IndexOf(' ');
        if (s <= 0 || s == args.Length - 1) return "-ERR invalid syntax";
        var h = args[..s];
        var v = args[(s + 1)..];
        Filters.Add(h, v);
        _sw.Bus.Update(this);
        return $"+OK filter added. [{h}]=[{v}]";
    }

    private void HandleMyEvents(string line, Action<string, IReadOnlyList<KeyValuePair<string, string>>?> reply)
    {
        if (MyEventsDone) { reply("-ERR aready enabled.", null); return; }
        if (Outbound)
        {
            var lower = line.ToLowerInvariant();
            if (lower.Contains("json")) Format = EventFormat.Json;
            else if (lower.Contains("xml")) Format = EventFormat.Xml;
            SubscribeMyEvents(Bound!.Uuid);
            reply("+OK Events Enabled", null);
            return;
        }
        if (!line.StartsWith("myevents ", StringComparison.OrdinalIgnoreCase))
        {
            reply("-ERR command not found", null);
            return;
        }
        var args = line[9..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var uuid = args.Length > 0 ? args[0] : "";
        var ch = _sw.FindChannel(uuid);
        if (ch == null)
        {
            if (args.Length > 1) { reply("-ERR invalid uuid", null); return; }
            // succeeds without binding: channel events of every channel
            MyEventsDone = true;
            EventsEnabled = true;
            foreach (var n in EventNames.MyEvents) EventNamesSubscribed.Add(n);
            _sw.Bus.Update(this);
            reply("+OK Events Enabled", null);
            return;
        }
        Bound = ch;
        ch.Sessions.Add(this);
        SubscribeMyEvents(ch.Uuid);
        reply("+OK Events Enabled", null);
    }

    private void SubscribeMyEvents(string uuid)
    {
        MyEventsDone = true;
        MyEventsUuid = uuid;
        EventsEnabled = true;
        foreach (var n in EventNames.MyEvents) EventNamesSubscribed.Add(n);
        _sw.Bus.Update(this);
    }

    private void HandleSendMsg(string line, EslRequest req, bool dropReply, Action done)
    {
        void Reply(string text) { if (!dropReply && !_closed) _t.Reply(text); }
        var target = ArgsAfterFirstSpace(line).Trim();
        if (target.Length == 0) target = req.Header("session-id") ?? "";
        if (Bound != null && target == Bound.Uuid) target = "";
        var msg = ParseSendMsg(req);
        if (target.Length > 0)
        {
            var ch = _sw.FindChannel(target);
            if (ch == null) { Reply($"-ERR invalid session id [{target}]"); done(); return; }
            Reply("+OK");
            _sw.Post(() => _sw.RunSendMsg(ch, msg, queued: true, null));
            done();
            return;
        }
        if (Bound == null) { Reply("-ERR invalid session id []"); done(); return; }
        var bound = Bound;
        bool queue = Async || string.Equals(req.Header("async"), "true", StringComparison.OrdinalIgnoreCase) || !Outbound;
        if (queue)
        {
            Reply("+OK");
            _sw.Post(() => _sw.RunSendMsg(bound, msg, queued: true, null));
            done();
        }
        else
        {
            // static socket: runs inline, the reply comes when the application has finished
            _sw.RunSendMsg(bound, msg, queued: false, () => { Reply("+OK"); done(); });
        }
    }

    internal static SendMsg ParseSendMsg(EslRequest req)
    {
        string? H(string n) => req.Header(n);
        var arg = H("execute-app-arg");
        if (string.IsNullOrEmpty(arg) && req.Body != null) arg = req.Body;
        int loops = 1;
        if (int.TryParse(H("loops"), out var l)) loops = l;
        return new SendMsg(
            (H("call-command") ?? "").Trim().ToLowerInvariant(),
            H("execute-app-name"),
            arg,
            string.Equals(H("event-lock"), "true", StringComparison.OrdinalIgnoreCase),
            H("event-uuid"),
            H("event-uuid-name"),
            H("hangup-cause"),
            loops,
            req.Headers);
    }
}
