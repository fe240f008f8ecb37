using Microsoft.Extensions.Logging;
using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Calls;

/// <summary>The services every call owner shares.</summary>
public sealed record CallContext(
    CallSettings Settings,
    DialStrings DialStrings,
    ICallPublisher Publisher,
    CallRegistry Registry,
    RedswitchMetrics Metrics,
    ILogger Logger,
    TimeProvider Time,
    string InstanceId)
{
    /// <summary>True while this instance's lease is in doubt (SPEC §8.1 self-fencing): calls hold every input meanwhile.</summary>
    public Func<bool> LeaseLapsed { get; init; } = static () => false;

    /// <summary>True while the instance hands its calls off (SPEC §8 "Graceful stop"): each call is released as soon as it can be.</summary>
    public Func<bool> HandingOff { get; init; } = static () => false;

    /// <summary>The socket app's host list for a new call (SPEC §8.1: the owner's address, then live peers'); null: the settings' address alone.</summary>
    public Func<string>? SocketHosts { get; init; }
}
