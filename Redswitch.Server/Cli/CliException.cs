namespace Redswitch.Server.Cli;

/// <summary>A verb that cannot do what it was asked: one line for the operator, and the exit code (1 failed, 2 misused).</summary>
internal sealed class CliException(string message, int exitCode = CliExit.Failed) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Exit codes of every verb (SPEC §10).</summary>
internal static class CliExit
{
    public const int Ok = 0;
    /// <summary>The verb ran and the answer is no: Redis or FreeSWITCH unreachable, a failure reply, nothing to requeue.</summary>
    public const int Failed = 1;
    /// <summary>Bad arguments: nothing was sent anywhere.</summary>
    public const int Usage = 2;
}
