using System.Text;
using Redswitch.Calls.Jobs;

namespace Redswitch.Calls.FreeSwitch;

/// <summary>What the dial strings need of the configuration (SPEC §2: DIAL_TEMPLATE, SIP_URI_TEMPLATE, RING_TIMEOUT).</summary>
public sealed record DialSettings(string DialTemplate, string SipUriTemplate, int RingTimeoutSeconds);

/// <summary>
/// Builds the originate and bridge arguments of SPEC §7. Every value that goes in here has passed
/// <see cref="FieldRules"/>, so none contains a space, comma, brace, quote or control character.
/// </summary>
public sealed class DialStrings(DialSettings options)
{
    /// <summary>US ringback (440+480 Hz, 2 s on, 4 s off); commas escaped for the variable list.</summary>
    public const string UsRingback = @"%(2000\,4000\,440\,480)";

    public string Endpoint(string provider, string number) =>
        FieldRules.IsSipUri(number)
            ? options.SipUriTemplate.Replace("{number}", number).Replace("{provider}", provider)
            : options.DialTemplate.Replace("{provider}", provider).Replace("{number}", number);

    /// <summary><c>originate {vars}endpoint &amp;socket('host:port async full')</c> for the caller's leg (side 0).</summary>
    public string OriginateCaller(CallJob job, string uuid, string advertise)
    {
        var sb = new StringBuilder(384);
        sb.Append("originate {origination_uuid=").Append(uuid);
        Common(sb, job, 0);
        sb.Append(",origination_caller_id_number=").Append(job.CallerIdLegA)
          .Append(",ignore_early_media=true")
          .Append(",originate_timeout=").Append(options.RingTimeoutSeconds)
          .Append(",hangup_after_bridge=true")
          .Append(",ringback=").Append(UsRingback)
          .Append('}').Append(Endpoint(job.CallProvider, job.CallerNumber))
          .Append(" &socket('").Append(advertise).Append(" async full')");
        return sb.ToString();
    }

    /// <summary>The <c>bridge</c> argument for the callee's leg (side 1).</summary>
    public string BridgeCallee(CallJob job, string uuid)
    {
        var sb = new StringBuilder(256);
        sb.Append("{origination_uuid=").Append(uuid);
        Common(sb, job, 1);
        sb.Append(",origination_caller_id_number=").Append(job.CallerIdLegB)
          .Append(",leg_timeout=").Append(options.RingTimeoutSeconds)
          .Append('}').Append(Endpoint(job.CallProvider, job.CalleeNumber));
        return sb.ToString();
    }

    /// <summary><c>originate {vars}endpoint &amp;eavesdrop(A)</c> for a barger (side 2).</summary>
    public string OriginateBarger(CallJob job, string uuid, string phoneNumber, string callerId, string targetUuid)
    {
        var sb = new StringBuilder(320);
        sb.Append("originate {origination_uuid=").Append(uuid);
        Common(sb, job, 2);
        sb.Append(",origination_caller_id_number=").Append(callerId)
          .Append(",ignore_early_media=true")
          .Append(",originate_timeout=").Append(options.RingTimeoutSeconds)
          .Append(",leg_timeout=").Append(options.RingTimeoutSeconds)
          .Append('}').Append(Endpoint(job.CallProvider, phoneNumber))
          .Append(" &eavesdrop(").Append(targetUuid).Append(')');
        return sb.ToString();
    }

    private static void Common(StringBuilder sb, CallJob job, int side) =>
        sb.Append(",dial_id=").Append(job.DialId)
          .Append(",call-side=").Append(side)
          .Append(",org_id=").Append(job.OrgId)
          .Append(",user_id=").Append(job.UserId)
          // ignored by other endpoints; keeps a loopback leg's uuid stable (lab and test set-ups use loopback)
          .Append(",loopback_bowout=false");
}
