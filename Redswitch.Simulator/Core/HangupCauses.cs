namespace Redswitch.Simulator.Core;

/// <summary>FreeSWITCH's hangup cause table (esl-protocol.md §6.4): names, codes, Q.850 mapping.</summary>
public static class HangupCauses
{
    private static readonly (int Code, string Name)[] Table =
    [
        (0, "NONE"), (1, "UNALLOCATED_NUMBER"), (2, "NO_ROUTE_TRANSIT_NET"), (3, "NO_ROUTE_DESTINATION"),
        (6, "CHANNEL_UNACCEPTABLE"), (7, "CALL_AWARDED_DELIVERED"), (16, "NORMAL_CLEARING"), (17, "USER_BUSY"),
        (18, "NO_USER_RESPONSE"), (19, "NO_ANSWER"), (20, "SUBSCRIBER_ABSENT"), (21, "CALL_REJECTED"),
        (22, "NUMBER_CHANGED"), (23, "REDIRECTION_TO_NEW_DESTINATION"), (25, "EXCHANGE_ROUTING_ERROR"),
        (27, "DESTINATION_OUT_OF_ORDER"), (28, "INVALID_NUMBER_FORMAT"), (29, "FACILITY_REJECTED"),
        (30, "RESPONSE_TO_STATUS_ENQUIRY"), (31, "NORMAL_UNSPECIFIED"), (34, "NORMAL_CIRCUIT_CONGESTION"),
        (38, "NETWORK_OUT_OF_ORDER"), (41, "NORMAL_TEMPORARY_FAILURE"), (42, "SWITCH_CONGESTION"),
        (43, "ACCESS_INFO_DISCARDED"), (44, "REQUESTED_CHAN_UNAVAIL"), (45, "PRE_EMPTED"),
        (50, "FACILITY_NOT_SUBSCRIBED"), (52, "OUTGOING_CALL_BARRED"), (54, "INCOMING_CALL_BARRED"),
        (57, "BEARERCAPABILITY_NOTAUTH"), (58, "BEARERCAPABILITY_NOTAVAIL"), (63, "SERVICE_UNAVAILABLE"),
        (65, "BEARERCAPABILITY_NOTIMPL"), (66, "CHAN_NOT_IMPLEMENTED"), (69, "FACILITY_NOT_IMPLEMENTED"),
        (79, "SERVICE_NOT_IMPLEMENTED"), (81, "INVALID_CALL_REFERENCE"), (88, "INCOMPATIBLE_DESTINATION"),
        (95, "INVALID_MSG_UNSPECIFIED"), (96, "MANDATORY_IE_MISSING"), (97, "MESSAGE_TYPE_NONEXIST"),
        (98, "WRONG_MESSAGE"), (99, "IE_NONEXIST"), (100, "INVALID_IE_CONTENTS"), (101, "WRONG_CALL_STATE"),
        (102, "RECOVERY_ON_TIMER_EXPIRE"), (103, "MANDATORY_IE_LENGTH_ERROR"), (111, "PROTOCOL_ERROR"),
        (127, "INTERWORKING"), (142, "SUCCESS"), (487, "ORIGINATOR_CANCEL"), (700, "CRASH"),
        (701, "SYSTEM_SHUTDOWN"), (702, "LOSE_RACE"), (703, "MANAGER_REQUEST"), (800, "BLIND_TRANSFER"),
        (801, "ATTENDED_TRANSFER"), (802, "ALLOTTED_TIMEOUT"), (803, "USER_CHALLENGE"), (804, "MEDIA_TIMEOUT"),
        (805, "PICKED_OFF"), (806, "USER_NOT_REGISTERED"), (807, "PROGRESS_TIMEOUT"), (808, "INVALID_GATEWAY"),
        (809, "GATEWAY_DOWN"), (810, "INVALID_URL"), (811, "INVALID_PROFILE"), (812, "NO_PICKUP"),
        (813, "SRTP_READ_ERROR"), (814, "BOWOUT"), (815, "BUSY_EVERYWHERE"), (816, "DECLINE"),
        (817, "DOES_NOT_EXIST_ANYWHERE"), (818, "NOT_ACCEPTABLE"), (819, "UNWANTED"), (820, "NO_IDENTITY"),
        (821, "BAD_IDENTITY_INFO"), (822, "UNSUPPORTED_CERTIFICATE"), (823, "INVALID_IDENTITY"),
        (824, "STALE_DATE"), (825, "REJECT_ALL"),
    ];

    private static readonly Dictionary<string, int> ByName =
        Table.ToDictionary(t => t.Name, t => t.Code, StringComparer.OrdinalIgnoreCase);
    private static readonly Dictionary<int, string> ByCode = Table.ToDictionary(t => t.Code, t => t.Name);

    /// <summary>Like FS's str2cause + fallback: a name (any case) or a decimal code; unknown → NORMAL_CLEARING.</summary>
    public static string Normalize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "NORMAL_CLEARING";
        var t = text.Trim();
        if (ByName.TryGetValue(t, out var code)) return ByCode[code];
        if (int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            return ByCode.TryGetValue(n, out var name) ? name : "UNKNOWN";
        return "NORMAL_CLEARING";
    }

    public static bool IsKnown(string name) => ByName.ContainsKey(name);

    public static int Code(string name) => ByName.TryGetValue(name, out var c) ? c : 0;

    /// <summary>The Q.850 code FS reports in hangup_cause_q850: codes above 127 map to 16.</summary>
    public static int Q850(string name)
    {
        var c = Code(name);
        return c > 127 ? 16 : c;
    }
}
