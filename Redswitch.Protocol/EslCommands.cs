using System.Text;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol;

/// <summary>
/// Builders for everything a controller sends. Every argument is checked for CR and LF, which
/// would let a value end this command and start another.
/// </summary>
public static class EslCommands
{
    /// <summary>Longer <c>execute-app-arg</c> values go in a body, as FreeSWITCH allows.</summary>
    public const int MaxHeaderArgumentBytes = 2048;

    public static EslCommand Auth(string password) => Create("auth", password);

    public static EslCommand Api(string command) => Create("api", command);

    public static EslCommand BgApi(string command, string? jobUuid = null) =>
        EslCommand.Create(Line("bgapi", command), jobUuid is null ? null : new[] { ("Job-UUID", Checked(jobUuid)) });

    public static EslCommand Event(EslEventFormat format, IEnumerable<string> eventNames) =>
        Create("event", FormatWord(format) + " " + Words(eventNames));

    public static EslCommand Event(EslEventFormat format, params string[] eventNames) => Event(format, (IEnumerable<string>)eventNames);

    public static EslCommand NixEvent(IEnumerable<string> eventNames) => Create("nixevent", Words(eventNames));

    public static EslCommand NoEvents() => EslCommand.Create("noevents");

    public static EslCommand Filter(string header, string value) => Create("filter", Word(header) + " " + value);

    public static EslCommand FilterDelete(string header, string? value = null) =>
        Create("filter delete", value is null ? Word(header) : Word(header) + " " + value);

    public static EslCommand MyEvents(EslEventFormat? format = null) =>
        format is null ? EslCommand.Create("myevents") : Create("myevents", FormatWord(format.Value));

    public static EslCommand MyEvents(string uuid, EslEventFormat? format = null) =>
        Create("myevents", format is null ? Word(uuid) : Word(uuid) + " " + FormatWord(format.Value));

    public static EslCommand Linger(int? seconds = null) =>
        seconds is null ? EslCommand.Create("linger") : EslCommand.Create($"linger {seconds.Value}");

    public static EslCommand NoLinger() => EslCommand.Create("nolinger");

    public static EslCommand Connect() => EslCommand.Create("connect");

    public static EslCommand Resume() => EslCommand.Create("resume");

    public static EslCommand Exit() => EslCommand.Create("exit");

    public static EslCommand GetVar(string name) => Create("getvar", Word(name));

    public static EslCommand Log(string level) => Create("log", Word(level));

    public static EslCommand NoLog() => EslCommand.Create("nolog");

    /// <summary>
    /// <c>sendmsg [uuid]</c> with <c>call-command: execute</c>. Without a uuid it targets the
    /// socket's own channel. An argument with a line break or longer than
    /// <see cref="MaxHeaderArgumentBytes"/> travels as a <c>text/plain</c> body.
    /// </summary>
    public static EslCommand SendMsgExecute(string? uuid, string app, string? arg = null, bool eventLock = false, string? eventUuid = null)
    {
        var headers = new List<(string, string)> { ("call-command", "execute"), ("execute-app-name", Word(app)) };
        var body = ReadOnlySpan<byte>.Empty;
        if (!string.IsNullOrEmpty(arg))
        {
            if (arg.AsSpan().IndexOfAny('\r', '\n') >= 0 || Encoding.UTF8.GetByteCount(arg) > MaxHeaderArgumentBytes)
            {
                body = Encoding.UTF8.GetBytes(arg);
                headers.Add(("content-type", "text/plain"));
                headers.Add(("content-length", body.Length.ToString()));
            }
            else
            {
                headers.Add(("execute-app-arg", arg));
            }
        }

        if (eventLock)
        {
            headers.Add(("event-lock", "true"));
        }

        if (eventUuid is not null)
        {
            headers.Add(("Event-UUID", Word(eventUuid)));
        }

        return EslCommand.Create(SendMsgLine(uuid), headers, body);
    }

    /// <summary><c>sendmsg [uuid]</c> with <c>call-command: hangup</c> and the cause name.</summary>
    public static EslCommand SendMsgHangup(string? uuid, string cause = "NORMAL_CLEARING") =>
        EslCommand.Create(SendMsgLine(uuid), new[] { ("call-command", "hangup"), ("hangup-cause", Word(cause)) });

    /// <summary><c>sendevent NAME</c> with headers and an optional body.</summary>
    public static EslCommand SendEvent(string eventName, IEnumerable<(string Name, string Value)> headers, string? body = null) =>
        EslCommand.Create(Line("sendevent", Word(eventName)), headers, body is null ? default : Encoding.UTF8.GetBytes(body));

    private static string SendMsgLine(string? uuid) => uuid is null ? "sendmsg" : "sendmsg " + Word(uuid);

    private static EslCommand Create(string verb, string arguments) => EslCommand.Create(Line(verb, arguments));

    private static string Line(string verb, string arguments) => verb + " " + Checked(arguments);

    private static string FormatWord(EslEventFormat format) => format switch
    {
        EslEventFormat.Plain => "plain",
        EslEventFormat.Json => "json",
        EslEventFormat.Xml => "xml",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static string Words(IEnumerable<string> words)
    {
        var joined = string.Join(' ', words.Select(Word));
        return joined.Length > 0 ? joined : throw new ArgumentException("at least one event name is needed", nameof(words));
    }

    /// <summary>One token: no spaces, no line ends.</summary>
    private static string Word(string value)
    {
        if (value.Length == 0 || value.AsSpan().IndexOfAny(" \t\r\n") >= 0)
        {
            throw new ArgumentException($"'{value}' must be one non-empty word without spaces or line ends", nameof(value));
        }

        return value;
    }

    private static string Checked(string value) =>
        value.AsSpan().IndexOfAny('\r', '\n') >= 0
            ? throw new ArgumentException("a command argument cannot contain CR or LF", nameof(value))
            : value;
}
