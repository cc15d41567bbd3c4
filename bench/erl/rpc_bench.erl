%% The BEAM side of bench/rpc.ts: the function every benchmark calls (echo/1), and a driver that
%% runs C concurrent callers of rpc:call/4 against a node. Compiled and loaded by the bench.
-module(rpc_bench).
-export([echo/1, run/4]).

echo(X) -> X.

%% C processes each make N div C sequential rpc:call(Node, rpc_bench, echo, [Arg]) calls.
%% Returns {WallMicroseconds, MeanCallMicroseconds}: the wall time of the whole run, and the mean
%% over callers of their own time per call.
run(Node, N, C, Arg) ->
    Per = N div C,
    Self = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Self ! {self(), caller(Node, Per, Arg)} end) || _ <- lists:seq(1, C)],
    Times = [receive {P, T} -> T end || P <- Pids],
    Wall = erlang:monotonic_time(microsecond) - T0,
    {Wall, lists:sum([T / Per || T <- Times]) / C}.

caller(Node, Per, Arg) ->
    T0 = erlang:monotonic_time(microsecond),
    loop(Node, Per, Arg),
    erlang:monotonic_time(microsecond) - T0.

loop(_, 0, _) -> ok;
loop(Node, K, Arg) ->
    Arg = rpc:call(Node, rpc_bench, echo, [Arg]),
    loop(Node, K - 1, Arg).
