namespace Redswitch.Calls.FreeSwitch;

/// <summary>
/// An <c>api</c>/<c>bgapi</c> command the call logic sends. Each builds its own line and refuses what FreeSWITCH
/// would split or misread (whitespace, CR/LF), so no command text is put together anywhere else.
/// </summary>
public abstract record FsCommand
{
    /// <summary>The command line, without <c>api </c>/<c>bgapi </c>.</summary>
    public abstract string Line { get; }

    public sealed override string ToString() => Line;

    private protected static string Token(string value, string what)
    {
        if (string.IsNullOrEmpty(value)) throw new ArgumentException($"{what} is empty");
        foreach (var ch in value)
            if (ch <= ' ' || ch == 0x7f) throw new ArgumentException($"{what} contains whitespace or a control character: {value}");
        return value;
    }

}

/// <summary><c>uuid_kill &lt;uuid&gt; &lt;cause&gt;</c>.</summary>
public sealed record UuidKill(string Uuid, string HangupCause) : FsCommand
{
    public override string Line { get; } = $"uuid_kill {Token(Uuid, "uuid")} {Token(HangupCause, "cause")}";
}

/// <summary><c>uuid_exists &lt;uuid&gt;</c>: <c>true</c> or <c>false</c>.</summary>
public sealed record UuidExists(string Uuid) : FsCommand
{
    public override string Line { get; } = $"uuid_exists {Token(Uuid, "uuid")}";
}

/// <summary><c>uuid_recv_dtmf &lt;uuid&gt; &lt;digits&gt;</c>: DTMF as if the leg's phone had pressed it (eavesdrop modes, SPEC §5).</summary>
public sealed record UuidRecvDtmf(string Uuid, string Digits) : FsCommand
{
    public override string Line { get; } = $"uuid_recv_dtmf {Token(Uuid, "uuid")} {CheckDigits(Digits)}";

    private static string CheckDigits(string digits)
    {
        if (digits.Length == 0 || !digits.All(c => char.IsAsciiDigit(c) || c is '*' or '#' or 'A' or 'B' or 'C' or 'D'))
            throw new ArgumentException($"not DTMF digits: {digits}");
        return digits;
    }
}

/// <summary><c>uuid_dump &lt;uuid&gt;</c>: the channel's variables, or <c>-ERR No such channel!</c> (esl-protocol.md §7.1).</summary>
public sealed record UuidDump(string Uuid) : FsCommand
{
    public override string Line { get; } = $"uuid_dump {Token(Uuid, "uuid")}";
}

/// <summary><c>originate {vars}endpoint &amp;app(...)</c>, as <see cref="DialStrings"/> builds it (values checked by FieldRules).</summary>
public sealed record Originate(string Arguments) : FsCommand
{
    public override string Line { get; } = Arguments.StartsWith("originate ", StringComparison.Ordinal) && Arguments.IndexOfAny(['\r', '\n']) < 0
        ? Arguments
        : throw new ArgumentException("not an originate line");
}
