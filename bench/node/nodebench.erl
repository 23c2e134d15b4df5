%% Erlang/OTP distribution for the node benchmark (bench/node): two nodes on 127.0.0.1
%% (-name, a cookie, net_ticktime 1, nodebench_epmd instead of epmd). The main node starts
%% its peers itself (erl through open_port) and measures: one-way throughput of {tag, I} with
%% ! to a process on the peer (which checks every I, in order, and answers {done, Count,
%% FirstBad}), round trips {ping, I, From} -> {pong, I}, and the time from kill -9 (then
%% SIGSTOP) of the peer to {nodedown, Peer} from monitor_node (the signal is sent by a shell
%% started beforehand, through a pipe: its built-in kill).
%%
%%   erl ... -name nbmainPORT@127.0.0.1 -run nodebench main N ROUNDS PORT
%% Peers are nbpeerP@127.0.0.1 for P = PORT+1, PORT+2, PORT+3. One JSON line per result.
-module(nodebench).
-export([main/1, peer/1, sink/4, echo/0]).

main([NS, RS, PS]) ->
    N = list_to_integer(NS), Rounds = list_to_integer(RS), Port = list_to_integer(PS),
    Main = self(),
    spawn(fun() -> timer:sleep(600000), Main ! out_of_time end),
    spawn(fun() -> timer:sleep(610000), io:format(standard_error, "erlang: out of time~n", []),
                   kill_peers(), halt(3) end),
    try run(N, Rounds, Port) of
        ok -> halt(0)
    catch C:E:St ->
        io:format(standard_error, "erlang: FAILED: ~p:~p~n~p~n", [C, E, St]),
        io:format("{\"system\": \"erlang\", \"metric\": \"error\", \"error\": \"~s\", \"ok\": false}~n",
                  [json_escape(io_lib:format("~p", [E]))]),
        kill_peers(),
        halt(1)
    end.

run(N, Rounds, Port) ->
    {Peer1, _} = start_peer(Port + 1),
    Echo = spawn(Peer1, ?MODULE, echo, []),
    round_trips(Echo, 100),  % warm-up
    Sink = spawn(Peer1, ?MODULE, sink, [self(), N, 0, -1]),
    T0 = now_ns(),
    send_loop(Sink, 0, N),
    receive
        {done, Count, Bad} ->
            Secs = (now_ns() - T0) / 1.0e9,
            (Count =:= N andalso Bad =:= -1) orelse
                error({receiver_got, Count, first_out_of_order, Bad}),
            emit("throughput", N / Secs, "msg/s", N, io_lib:format(", \"seconds\": ~.6f", [Secs]))
    after 120000 -> error(no_done_within_120_s)
    end,
    Us = lists:sort(round_trips(Echo, Rounds)),
    emit("rt_median", pct(Us, 0.5), "us", Rounds, ""),
    emit("rt_p99", pct(Us, 0.99), "us", Rounds, ""),
    stop_peer(Peer1),
    detect("kill9_detect", "-KILL", Port + 2),
    detect("stop_detect", "-STOP", Port + 3),
    ok.

send_loop(_, N, N) -> ok;
send_loop(Sink, I, N) -> Sink ! {tag, I}, send_loop(Sink, I + 1, N).

%% On the peer: checks {tag, I} for I = 0, 1, ...
sink(Reporter, N, Next, Bad) ->
    receive
        {tag, I} ->
            Bad2 = if I =/= Next andalso Bad < 0 -> Next; true -> Bad end,
            case Next + 1 of
                N -> Reporter ! {done, N, Bad2};
                Next2 -> sink(Reporter, N, Next2, Bad2)
            end
    after 120000 -> ok
    end.

echo() ->
    receive {ping, I, From} -> From ! {pong, I}, echo()
    after 300000 -> ok
    end.

%% Round-trip times in microseconds.
round_trips(Echo, Rounds) -> round_trips(Echo, 0, Rounds, []).
round_trips(_, R, R, Acc) -> Acc;
round_trips(Echo, I, R, Acc) ->
    T0 = now_ns(),
    Echo ! {ping, I, self()},
    receive {pong, I} -> ok
    after 10000 -> error({no_pong_within_10_s, I})
    end,
    round_trips(Echo, I + 1, R, [(now_ns() - T0) / 1000 | Acc]).

detect(Metric, Signal, Port) ->
    {Peer, OsPid} = start_peer(Port),
    Echo = spawn(Peer, ?MODULE, echo, []),
    timer:sleep(rand:uniform(250) - 1),  % a random phase of the ticks, as for sluice and CAF
    round_trips(Echo, 10),
    %% A shell started beforehand sends the signal with its built-in kill when told to (no
    %% process to start between T0 and the signal).
    Kp = open_port({spawn_executable, "/bin/sh"},
                   [{args, ["-c", "read s p && kill $s $p"]}, exit_status]),
    true = erlang:monitor_node(Peer, true),
    timer:sleep(20),
    T0 = now_ns(),
    true = port_command(Kp, Signal ++ " " ++ OsPid ++ "\n"),
    receive
        {nodedown, Peer} ->
            Ms = (now_ns() - T0) / 1.0e6,
            emit(Metric, Ms, "ms", 1, "")
    after 5000 -> error({no_nodedown_within_5_s, Signal})
    end,
    receive {Kp, {exit_status, 0}} -> ok after 5000 -> error(kill_failed) end,
    kill9(OsPid).

%% A peer node: erl started through a port; returns {Node, OsPid} once it answers a ping.
start_peer(Port) ->
    Name = "nbpeer" ++ integer_to_list(Port),
    Node = list_to_atom(Name ++ "@127.0.0.1"),
    Erl = os:find_executable("erl"),
    Dir = filename:dirname(code:which(?MODULE)),
    Args = ["-noshell", "-noinput", "-name", atom_to_list(Node),
            "-setcookie", atom_to_list(erlang:get_cookie()),
            "-start_epmd", "false", "-epmd_module", "nodebench_epmd",
            "-kernel", "net_ticktime", "1", "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
            "-pa", Dir, "-run", ?MODULE_STRING, "peer", atom_to_list(node())],
    open_port({spawn_executable, Erl}, [{args, Args}, exit_status]),
    wait_pong(Node, 100),
    OsPid = rpc:call(Node, os, getpid, [], 5000),
    is_list(OsPid) orelse error({no_os_pid, OsPid}),
    put(peers, [OsPid | get_peers()]),
    {Node, OsPid}.

wait_pong(Node, 0) -> error({peer_never_answered, Node});
wait_pong(Node, K) ->
    case net_adm:ping(Node) of
        pong -> ok;
        pang -> timer:sleep(100), wait_pong(Node, K - 1)
    end.

stop_peer(Node) -> rpc:cast(Node, erlang, halt, [0]).

get_peers() -> case get(peers) of undefined -> []; L -> L end.
kill9(OsPid) -> os:cmd("kill -9 " ++ OsPid).
kill_peers() -> [kill9(P) || P <- get_peers()].

%% The peer node: lives until the main node goes away (or 300 s).
peer([MainNode]) ->
    Main = list_to_atom(MainNode),
    spawn(fun() -> timer:sleep(300000), halt(0) end),
    spawn(fun() ->
                  wait_connected(Main, 200),
                  erlang:monitor_node(Main, true),
                  receive {nodedown, Main} -> halt(0) end
          end).

wait_connected(_, 0) -> halt(1);
wait_connected(Main, K) ->
    case lists:member(Main, nodes()) of
        true -> ok;
        false -> timer:sleep(50), wait_connected(Main, K - 1)
    end.

pct(Sorted, Q) -> lists:nth(min(length(Sorted), trunc(Q * length(Sorted)) + 1), Sorted).

now_ns() -> erlang:monotonic_time(nanosecond).

emit(Metric, Value, Unit, N, Extra) ->
    io:format("{\"system\": \"erlang\", \"metric\": \"~s\", \"value\": ~.6g, \"unit\": \"~s\", \"n\": ~b, "
              "\"ok\": true~s}~n", [Metric, float(Value), Unit, N, Extra]).

json_escape(S) -> [case C of $" -> "\\\""; $\\ -> "\\\\"; $\n -> " "; _ -> C end || C <- lists:flatten(S)].
