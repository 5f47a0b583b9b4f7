# deploy/package.cmake - man pages, documentation, the systemd unit with
# the paths of the install, and the Debian package (deploy/package).
#
# Included from CMakeLists.txt right after its install() rules, so every
# rule here runs after those at install time and may correct what they
# decided at configure time:
#
#   regzoned.service  CMakeLists.txt configures it with the configure-time
#                     prefix; install_paths.cmake writes it again with the
#                     prefix of the install itself (cmake --install --prefix
#                     P, or CPack's /usr), into /lib/systemd/system when
#                     that prefix is /usr (Debian 12's place for units).
#   regzone.yaml      GNUInstallDirs leaves SYSCONFDIR "etc" relative, so
#                     the rule in CMakeLists.txt puts the example under
#                     /usr/etc for the prefix /usr.  The configuration goes
#                     where GNUInstallDirs' FULL_SYSCONFDIR would (/etc for
#                     /usr, /etc/opt/X for /opt/X, P/etc otherwise) as
#                     regzone/regzone.yaml, a copy of the example, and only
#                     when there is none: an operator's file is never
#                     replaced.  For /usr the example lives in the doc dir.
#   man pages         regzoned(8), regzonectl(8), regzone.yaml(5) from
#                     deploy/man/*.scd with scdoc, gzip -9n.
#   documentation     README.md and the examples in share/doc/regzone; with
#                     REGZONE_DEBIAN also Debian's copyright and
#                     changelog.Debian.gz, and the CPack DEB settings.

option(REGZONE_DEBIAN "Build the Debian package's files and CPack's DEB settings (deploy/package)" OFF)

# ---- man pages -----------------------------------------------------------
find_program(REGZONE_SCDOC scdoc)
set(RZ_MAN_PAGES regzoned.8 regzonectl.8 regzone.yaml.5)
if(REGZONE_SCDOC)
  set(rz_man_out)
  foreach(page ${RZ_MAN_PAGES})
    string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" sect "${page}")
    # @PROJECT_VERSION@ in the page's title line
    configure_file(${CMAKE_SOURCE_DIR}/deploy/man/${page}.scd
                   ${CMAKE_BINARY_DIR}/man/${page}.scd @ONLY)
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
      COMMAND sh -c [["$0" < "$1" > "$2" && gzip -9n -c "$2" > "$2.gz"]]
              ${REGZONE_SCDOC} ${page}.scd ${page}
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/man
      DEPENDS ${CMAKE_BINARY_DIR}/man/${page}.scd
      COMMENT "scdoc: ${page}" VERBATIM)
    list(APPEND rz_man_out ${CMAKE_BINARY_DIR}/man/${page}.gz)
    install(FILES ${CMAKE_BINARY_DIR}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sect})
  endforeach()
  add_custom_target(man ALL DEPENDS ${rz_man_out})
elseif(REGZONE_DEBIAN)
  message(FATAL_ERROR "REGZONE_DEBIAN: the package needs its man pages: install scdoc")
else()
  message(STATUS "scdoc not found: the man pages are not built")
endif()

# ---- documentation -------------------------------------------------------
install(FILES README.md config/regzone.example.yaml deploy/knot.conf.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- paths decided at install time: the unit, the configuration ----------
# @VAR@ is the configure-time value, ${VAR} the install-time one.
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/install_paths.cmake @ONLY CONTENT [[
# Generated from deploy/package.cmake; runs at install time after the rules
# of CMakeLists.txt, with the prefix of this install.
# rz_remove_empty(DIR...): each DIR that exists and holds nothing, removed.
function(rz_remove_empty)
  foreach(dir ${ARGN})
    file(GLOB left "${dir}/*" "${dir}/.*")
    if(IS_DIRECTORY "${dir}" AND left STREQUAL "")
      file(REMOVE_RECURSE "${dir}")
    endif()
  endforeach()
endfunction()
function(rz_install_paths)
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/+$" "" prefix "${prefix}")     # "/" is ""
  set(destdir "$ENV{DESTDIR}")
  set(sysconf "@CMAKE_INSTALL_SYSCONFDIR@")
  set(bindir "@CMAKE_INSTALL_BINDIR@")
  set(docdir "@CMAKE_INSTALL_DOCDIR@")
  foreach(d bindir docdir)
    if(NOT IS_ABSOLUTE "${${d}}")
      set(${d} "${prefix}/${${d}}")
    endif()
  endforeach()
  # where the rule of CMakeLists.txt put the example
  if(IS_ABSOLUTE "${sysconf}")
    set(etc "${sysconf}")
    set(etc_rule "${sysconf}")
  else()
    set(etc_rule "${prefix}/${sysconf}")
    # GNUInstallDirs' special cases for CMAKE_INSTALL_FULL_SYSCONFDIR
    if(prefix STREQUAL "" OR prefix STREQUAL "/usr")
      set(etc "/${sysconf}")
    elseif(prefix MATCHES "^/opt/(.+)$")
      set(etc "/${sysconf}/opt/${CMAKE_MATCH_1}")
    else()
      set(etc "${prefix}/${sysconf}")
    endif()
  endif()

  # The configuration: regzone.yaml from the example, never over an
  # operator's file.
  if(NOT etc_rule STREQUAL etc)
    # the example went to PREFIX/etc (/usr/etc): it is in the doc dir
    file(REMOVE "${destdir}${etc_rule}/regzone/regzone.example.yaml")
    list(REMOVE_ITEM CMAKE_INSTALL_MANIFEST_FILES "${etc_rule}/regzone/regzone.example.yaml"
         "${destdir}${etc_rule}/regzone/regzone.example.yaml")
    message(STATUS "Removed: ${destdir}${etc_rule}/regzone/regzone.example.yaml (see ${docdir})")
    set(empty "${destdir}${etc_rule}/regzone")
    if(NOT destdir STREQUAL "")
      list(APPEND empty "${destdir}${etc_rule}")   # a staging tree only
    endif()
    rz_remove_empty(${empty})
  endif()
  if(EXISTS "${destdir}${etc}/regzone/regzone.yaml")
    message(STATUS "Kept: ${destdir}${etc}/regzone/regzone.yaml (an existing configuration is never replaced)")
  else()
    file(INSTALL DESTINATION "${etc}/regzone" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         RENAME regzone.yaml FILES "@CMAKE_SOURCE_DIR@/config/regzone.example.yaml")
  endif()

  # The unit, with the paths of this install.
  set(unit_rule "${prefix}/lib/systemd/system")
  if(prefix STREQUAL "/usr")
    set(unit_dir "/lib/systemd/system")
  else()
    set(unit_dir "${unit_rule}")
  endif()
  if(NOT unit_dir STREQUAL unit_rule)
    # first, as /lib may be /usr/lib
    file(REMOVE "${destdir}${unit_rule}/regzoned.service")
    list(REMOVE_ITEM CMAKE_INSTALL_MANIFEST_FILES "${unit_rule}/regzoned.service"
         "${destdir}${unit_rule}/regzoned.service")
    if(NOT destdir STREQUAL "")
      rz_remove_empty("${destdir}${unit_rule}" "${destdir}${prefix}/lib/systemd")
    endif()
  endif()
  set(CMAKE_INSTALL_FULL_BINDIR "${bindir}")
  set(CMAKE_INSTALL_FULL_SYSCONFDIR "${etc}")
  set(CMAKE_INSTALL_FULL_DOCDIR "${docdir}")
  configure_file("@CMAKE_SOURCE_DIR@/deploy/regzoned.service.in"
                 "@CMAKE_BINARY_DIR@/install/regzoned.service" @ONLY)
  file(INSTALL DESTINATION "${unit_dir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "@CMAKE_BINARY_DIR@/install/regzoned.service")
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()
rz_install_paths()
]])
install(SCRIPT ${CMAKE_BINARY_DIR}/install_paths.cmake)

if(NOT REGZONE_DEBIAN)
  return()
endif()

# ---- the Debian package ----------------------------------------------------
# The version: the project's, with the Debian revision of the top entry of
# deploy/debian/changelog, which must name this version.
file(STRINGS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog rz_top LIMIT_COUNT 1)
if(NOT rz_top MATCHES "^regzone \\(([^)-]+)-([0-9][^)]*)\\) ")
  message(FATAL_ERROR "deploy/debian/changelog: the first line must be "
          "'regzone (VERSION-REVISION) DIST; urgency=...', not '${rz_top}'")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "deploy/debian/changelog: the top entry is for ${CMAKE_MATCH_1}, "
          "the project is ${PROJECT_VERSION}: add an entry for ${PROJECT_VERSION}-1")
endif()
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CMAKE_MATCH_2})

add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  COMMAND sh -c [[gzip -9n -c "$0" > "$1"]] ${CMAKE_SOURCE_DIR}/deploy/debian/changelog
          ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog
  COMMENT "changelog.Debian.gz" VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
install(FILES deploy/debian/copyright ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES deploy/debian/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
  RENAME regzone)

file(READ ${CMAKE_SOURCE_DIR}/deploy/debian/description rz_desc)
string(REGEX REPLACE "\n+$" "" rz_desc "${rz_desc}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME regzone)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "regzone maintainers <maintainers@users.noreply.r-seed-2d4a931f.example>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${rz_desc}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: dpkg-shlibdeps' libraries, and adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "knot, postgresql, publicsuffix")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prosody")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
  ${CMAKE_SOURCE_DIR}/deploy/debian/prerm ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# The binaries are built RelWithDebInfo: stripped in the package, their
# debug information in regzone-dbgsym (a .ddeb beside it).
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
# Install into the staging tree with DESTDIR and the prefix /usr, so that
# absolute destinations (/etc, /lib/systemd/system) land in it too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF)
include(CPack)
