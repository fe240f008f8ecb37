namespace Redswitch.Simulator;

/// <summary>What the simulator does to one command instead of handling it normally.</summary>
public enum CommandFaultKind
{
    /// <summary>The connection breaks as the command arrives: it is not run, nothing is answered.</summary>
    DropBeforeRunning,

    /// <summary>The command runs (a bgapi's job goes on), but the connection breaks instead of the reply.</summary>
    DropInsteadOfReply,

    /// <summary>The command is not run; the given text is its reply (api/response for <c>api</c>, command/reply otherwise).</summary>
    Reply,
}

/// <summary>
/// A fault for tests of the failure paths a real FreeSWITCH produces rarely: a link that breaks between a
/// command and its reply, a command FreeSWITCH refuses. See <see cref="SimulatorHost.CommandFaults"/>.
/// </summary>
public sealed record CommandFault(CommandFaultKind Kind, string? ReplyText = null)
{
    public static CommandFault DropBeforeRunning { get; } = new(CommandFaultKind.DropBeforeRunning);
    public static CommandFault DropInsteadOfReply { get; } = new(CommandFaultKind.DropInsteadOfReply);
    public static CommandFault Reply(string text) => new(CommandFaultKind.Reply, text);
}
